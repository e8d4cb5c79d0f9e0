using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Usage.Internal;

/// <summary>
/// Requesty's management API as the options describe it, resolved once: its address and key (held
/// in a <see cref="ProviderEndpoint"/>, which builds addresses, marks requests for the bearer token) and the query form.
/// </summary>
internal sealed class RequestyUsageEndpoint
{
    public RequestyUsageEndpoint(IOptions<RequestyUsageOptions> options, IOptions<AgentHarnessOptions> harness, RequestyUsageRegistration registration)
    {
        // Reading Value runs the validator, so an unresolvable key has failed with its message already.
        var value = options.Value;
        var key = RequestyUsageOptionsValidator.ResolveKey(value, harness.Value, registration.SectionPath, out var error)
            ?? throw new InvalidOperationException(error);
        Api = new ProviderEndpoint("requesty-management", new ProviderOptions { BaseUrl = value.BaseAddress, ApiKey = key });
        QueryForm = value.QueryForm;
    }

    /// <summary>Gets the management API: <see cref="ProviderEndpoint.BuildUri"/>, <see cref="ProviderEndpoint.Authorize"/>; keys are removed from text by <see cref="AgentHarness.Internal.KeyRedactor"/>.</summary>
    public ProviderEndpoint Api { get; }

    /// <summary>Gets the form that overrides each endpoint's documented one, or <see langword="null"/>.</summary>
    public RequestyQueryForm? QueryForm { get; }
}
