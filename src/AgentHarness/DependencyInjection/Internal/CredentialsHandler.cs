using AgentHarness.Http.Internal;
using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>
/// The innermost handler of the harness's clients, wrapping their transport: it sets the key of the provider a request
/// is marked for (<see cref="ProviderEndpoint.OptionsKey"/>) as the request leaves, takes it off once it has left, and
/// removes configured keys from the body of an error answer as it arrives.
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
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var provider = Authorize(request);
        var sending = base.SendAsync(request, cancellationToken);
        if (sending.IsCompletedSuccessfully && sending.Result.IsSuccessStatusCode)
        {
            // An answer that has already arrived and succeeded needs nothing more: no state machine, no second task.
            Unauthorize(request, provider);
            return sending;
        }

        return CompleteAsync(request, provider, sending, cancellationToken);
    }

    private async Task<HttpResponseMessage> CompleteAsync(HttpRequestMessage request, ProviderEndpoint? provider, Task<HttpResponseMessage> sending, CancellationToken cancellationToken)
    {
        HttpResponseMessage response;
        try
        {
            response = await sending.ConfigureAwait(false);
        }
        finally
        {
            Unauthorize(request, provider);
        }

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
        var provider = Authorize(request);
        HttpResponseMessage response;
        try
        {
            response = base.Send(request, cancellationToken);
        }
        finally
        {
            Unauthorize(request, provider);
        }

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

    private static ProviderEndpoint? Authorize(HttpRequestMessage request)
    {
        if (request.Options.TryGetValue(ProviderEndpoint.OptionsKey, out var provider))
        {
            provider.ApplyKey(request);
            return provider;
        }

        return null;
    }

    /// <summary>
    /// Takes the key off the request once it has been sent (its headers are written before an answer arrives): the
    /// first attempt of a call is the official client's own request, which the client holds on to as the answer's
    /// <see cref="HttpResponseMessage.RequestMessage"/>, and it must not carry the key out of the transport.
    /// </summary>
    private static void Unauthorize(HttpRequestMessage request, ProviderEndpoint? provider)
    {
        if (provider is not null)
        {
            request.Headers.Authorization = null;
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
                HeaderCopy.Add(content.Headers, header);
            }
        }

        response.Content.Dispose();
        response.Content = content;
    }
}
