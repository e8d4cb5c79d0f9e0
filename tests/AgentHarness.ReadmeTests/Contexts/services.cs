// Context "services": what a README fragment that registers the harness itself has been given.
// An empty service collection, the README's appsettings.json (from the working directory, plus the
// JSON block above with config=above), a fake clock and a week's usage query. Provider keys are not
// required, as offline. After the fragment the services are started as an application would start
// them: every option validated, the harness and its ledger resolved.
// Declares: configuration, services, timeProvider, query.
using AgentHarness;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

IConfiguration configuration = AgentHarness.ReadmeTests.Support.ReadmeContext.Configuration(ReadmeSnippet.ConfigAbove);
var services = new ServiceCollection();
AgentHarness.ReadmeTests.Support.ReadmeContext.KeysNotRequired(services);
var timeProvider = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(AgentHarness.ReadmeTests.Support.ReadmeContext.Now);
UsageQuery query = AgentHarness.ReadmeTests.Support.ReadmeContext.Week();
// <snippet>
await using (var started = services.BuildServiceProvider())
{
    AgentHarness.ReadmeTests.Support.ReadmeContext.Start(started);
}
