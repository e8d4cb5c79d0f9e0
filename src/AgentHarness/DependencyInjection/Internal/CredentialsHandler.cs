using AgentHarness.Http.Internal;
using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;
using AgentHarness.Routing.Internal;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>
/// The innermost handler of the harness's clients, wrapping their transport: it sets the key of the provider a request
/// is marked for (<see cref="ProviderEndpoint.OptionsKey"/>) as the request leaves, and removes configured keys from the
/// body of an error answer as it arrives.
/// </summary>
/// <remarks>
/// <para>
/// Being below every other handler, the HTTP client factory's logging handlers among them, it is the only one that sees
/// the key: their log state (which structured sinks write out whole, unlike the formatted message) holds the request
/// without credentials.
/// </para>
/// <para>
/// An error body is read whole here (error bodies are small, and the harness reads them whole anyway) and replaced
/// only when it holds a key, so that the reason classified from it, the record, the exception the official client
/// builds from it, and the body the caller gets all lack the key.
/// </para>
/// </remarks>
internal sealed class CredentialsHandler(KeyRedactor redactor, int maxResponseBytes) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Authorize(request);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        try
        {
            // Held to the answer cap like any body: an error status is no licence to inflate without limit.
            var body = await BoundedContent.ReadAsync(response.Content, maxResponseBytes, cancellationToken).ConfigureAwait(false);
            Replace(response, body);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Authorize(request);
        var response = base.Send(request, cancellationToken);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        try
        {
            Replace(response, BoundedContent.Read(response.Content, maxResponseBytes, cancellationToken));
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private static void Authorize(HttpRequestMessage request)
    {
        if (request.Options.TryGetValue(ProviderEndpoint.OptionsKey, out var provider))
        {
            provider.ApplyKey(request);
        }
    }

    /// <summary>Puts the buffered body back, redacted when it held a key; the content's headers stay, but its length.</summary>
    private void Replace(HttpResponseMessage response, byte[] body)
    {
        var redacted = redactor.RedactUtf8(body);
        var content = new ByteArrayContent(redacted ?? body);
        foreach (var header in response.Content.Headers.NonValidated)
        {
            if (!header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        response.Content.Dispose();
        response.Content = content;
    }
}
