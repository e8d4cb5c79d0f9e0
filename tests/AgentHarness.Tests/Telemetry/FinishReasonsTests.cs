using System.Text;
using AgentHarness.Telemetry.Internal;

namespace AgentHarness.Tests.Telemetry;

public sealed class FinishReasonsTests
{
    [Theory]
    [InlineData("""{"choices":[{"index":0,"message":{"content":"finish_reason"},"finish_reason":"stop"},{"index":1,"finish_reason":"length"}]}""", new[] { "stop", "length" })]
    [InlineData("""{"id":"r","status":"completed","output":[]}""", new[] { "completed" })]
    [InlineData("""{"choices":[{"finish_reason":null}]}""", new string[0])]
    [InlineData("""not json""", new string[0])]
    public void Read_WholeAnswer_ReasonsInChoiceOrder(string answer, string[] expected)
    {
        Assert.Equal(expected, FinishReasons.Read(Encoding.UTF8.GetBytes(answer)));
    }
}
