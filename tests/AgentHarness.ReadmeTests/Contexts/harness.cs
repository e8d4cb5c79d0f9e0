// Context "harness": what a README fragment that uses `harness` or `provider` has been given.
// The README's appsettings.json (from the working directory), served by the offline sandbox; the clock
// stands at 2026-05-04 12:00 UTC and the ledger already holds one run's calls, so the week of
// 2026-05-01 the README's usage query asks about has something to report.
// Declares: configuration, timeProvider, sandbox, services, provider, harness.
using AgentHarness;
using AgentHarness.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

IConfiguration configuration = AgentHarness.ReadmeTests.Support.ReadmeContext.Configuration(ReadmeSnippet.ConfigAbove);
var timeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(AgentHarness.ReadmeTests.Support.ReadmeContext.Now);
var sandbox = new SandboxProvider(timeProvider);
var services = new ServiceCollection();
services.AddSingleton<TimeProvider>(timeProvider);
AgentHarness.ReadmeTests.Support.ReadmeContext.Offline(services.AddAgentHarness(configuration.GetSection("AgentHarness")), sandbox);
await using var provider = services.BuildServiceProvider();
var harness = provider.GetRequiredService<IAgentHarness>();
await AgentHarness.ReadmeTests.Support.ReadmeContext.RecordSampleRunAsync(harness);
// <snippet>
