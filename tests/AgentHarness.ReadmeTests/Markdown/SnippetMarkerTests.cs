namespace AgentHarness.ReadmeTests.Markdown;

public sealed class SnippetMarkerTests
{
    [Fact]
    public void Parse_EverySetting_ReadsEach()
    {
        var marker = SnippetMarker.Parse(" context=services config=above compile-only ");

        Assert.Equal("services", marker.Context);
        Assert.True(marker.ConfigAbove);
        Assert.True(marker.CompileOnly);
        Assert.Null(marker.File);
        Assert.Empty(marker.Problems);
    }

    [Fact]
    public void Parse_File_ReadsTheName()
    {
        Assert.Equal("appsettings.json", SnippetMarker.Parse(" file=appsettings.json ").File);
    }

    [Fact]
    public void Parse_UnknownSetting_ReportsItAndTheSettingsThereAre()
    {
        var marker = SnippetMarker.Parse(" contxt=harness ");

        Assert.Equal(["'contxt=harness' is not a snippet setting; use context=NAME, config=above, compile-only, file=NAME."], marker.Problems);
    }

    [Fact]
    public void Parse_ConfigAboveWithoutContext_ReportsIt()
    {
        Assert.Equal(["'config=above' needs a context whose configuration it extends."], SnippetMarker.Parse("config=above").Problems);
    }
}
