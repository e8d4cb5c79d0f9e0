using System.Text;
using AgentHarness.Agents;
using AgentHarness.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.ReadmeTests.Support;

/// <summary>
/// What the contexts in Contexts/ call: public, because README fragments are compiled into assemblies of
/// their own that reference this one.
/// </summary>
public static class ReadmeContext
{
    /// <summary>The name of the configuration file a snippet reads from its working directory: the README's block marked <c>file=appsettings.json</c>.</summary>
    public const string AppSettingsFile = "appsettings.json";

    /// <summary>Gets the contexts' clock: inside the week the README's usage query covers.</summary>
    public static DateTimeOffset Now { get; } = new(2026, 5, 4, 12, 0, 0, TimeSpan.Zero);

    /// <summary>The README's appsettings.json from the working directory, then <paramref name="json"/> (a README block) over it.</summary>
    /// <param name="json">A JSON document that adds to or changes the file, or <see langword="null"/>.</param>
    public static IConfiguration Configuration(string? json)
    {
        var builder = new ConfigurationBuilder()
            .SetBasePath(Directory.GetCurrentDirectory())
            .AddJsonFile(AppSettingsFile, optional: false);
        if (json is not null)
        {
            builder.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json)));
        }

        return builder.Build();
    }

    /// <summary>
    /// Makes every configured provider's key optional, as an offline run needs: applied after binding
    /// and after the harness has read keys from the environment, before the options are validated.
    /// </summary>
    public static void KeysNotRequired(IServiceCollection services) =>
        services.PostConfigure<AgentHarnessOptions>(static options =>
        {
            foreach (var provider in options.Providers.Values)
            {
                provider.RequiresApiKey = false;
            }
        });

    /// <summary>Answers every request of the harness, model calls and model lists alike, from <paramref name="sandbox"/>.</summary>
    public static IAgentHarnessBuilder Offline(IAgentHarnessBuilder builder, SandboxProvider sandbox)
    {
        ArgumentNullException.ThrowIfNull(builder);
        KeysNotRequired(builder.Services);
        return builder.UseSandbox(sandbox);
    }

    /// <summary>Makes one run's calls, so the ledger has records to report on.</summary>
    public static async Task RecordSampleRunAsync(IAgentHarness harness)
    {
        ArgumentNullException.ThrowIfNull(harness);
        using var run = harness.BeginRun("code-review-agent", static r => r.Branch = "feat/auth-refactor");
        var review = await harness.GetChatClient("policy/claude-4").ReviewAsync("- old\n+ new").ConfigureAwait(false);
        await harness.GetChatClient("openai/gpt-4.1-nano").SummarizeAsync(review).ConfigureAwait(false);
    }

    /// <summary>Gets the week the README's usage query covers, by day, grouped by agent and task.</summary>
    public static UsageQuery Week() => new()
    {
        Start = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero),
        End = new DateTimeOffset(2026, 5, 8, 0, 0, 0, TimeSpan.Zero),
        Resolution = UsageResolution.Day,
        GroupBy = [UsageGroupKeys.Extra("agent"), UsageGroupKeys.Extra("task")],
    };

    /// <summary>
    /// Starts <paramref name="services"/> as an application's start would: validates every option
    /// registered for validation at start, then resolves the harness and its ledger.
    /// </summary>
    public static void Start(IServiceProvider services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.GetService<IStartupValidator>()?.Validate();
        services.GetRequiredService<IAgentHarness>();
        services.GetRequiredService<IUsageLedger>();
    }
}
