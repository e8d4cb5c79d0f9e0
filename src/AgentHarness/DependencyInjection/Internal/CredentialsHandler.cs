using AgentHarness.Http.Internal;
using AgentHarness.Internal;
using AgentHarness.Pipeline.Internal;
using System.Runtime.CompilerServices;

namespace AgentHarness.DependencyInjection.Internal;

/// <summary>
/// The innermost handler of the harness's clients, wrapping their transport: it sets the credential of the provider a
/// request is marked for (<see cref="ProviderEndpoint.OptionsKey"/>: its key as a bearer or in its key header, or its
/// access token) and that provider's fixed headers as the request leaves, takes them off once it has left, and removes
/// configured keys from the body of an error answer as it arrives.
/// </summary>
/// <remarks>
/// <para>
/// Being below every other handler, the HTTP client factory's logging handlers among them, it is the only one that sees
/// the key: their log state (which structured sinks write out whole, unlike the formatted message) holds the request
/// without credentials.
/// </para>
/// <para>
/// Response headers that echo a key (a gateway's debug header, a <c>WWW-Authenticate</c> quoting the credential) are
/// redacted here too, on every answer, so that the factory's logging handlers above and the client's exception see them
/// without it.
/// </para>
/// <para>
/// An error body is read whole here (error bodies are small, and the harness reads them whole anyway) and replaced
/// only when it holds a key, so that the reason classified from it, the record, the exception the official client
/// builds from it, and the body the caller gets all lack the key.
/// </para>
/// </remarks>
internal sealed class CredentialsHandler(KeyRedactor redactor, int maxResponseBytes) : DelegatingHandler, IAttemptSender
{
    // A value task made from a task hands back that very task: the ordinary path allocates nothing more than it did.
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        SendAttemptAsync(request, cancellationToken).AsTask();

    /// <summary>
    /// Sends an attempt of the transport stage without a task of its own: the state machine that waits for the answer
    /// (on every attempt over sockets) comes from a pool.
    /// </summary>
    public ValueTask<HttpResponseMessage> SendAttemptAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var provider = Authorize(request, out var ready);
        if (!ready)
        {
            return new ValueTask<HttpResponseMessage>(SendWithTokenAsync(request, provider!, cancellationToken));
        }

        var sending = Leave(request, provider, cancellationToken);
        if (sending.IsCompletedSuccessfully && sending.Result.IsSuccessStatusCode)
        {
            // An answer that has already arrived and succeeded needs nothing more: no state machine, no second task.
            Unauthorize(request, provider);
            RedactHeaders(sending.Result);
            return new ValueTask<HttpResponseMessage>(sending);
        }

        return CompleteAsync(request, provider, sending, cancellationToken);
    }

    /// <summary>
    /// Sends the request on with its credential. A transport that throws before it returns a task (one disposed, a
    /// request it refuses) leaves nothing to wait for: the credential comes off the request at once, as it does once
    /// an answer arrives.
    /// </summary>
    private Task<HttpResponseMessage> Leave(HttpRequestMessage request, ProviderEndpoint? provider, CancellationToken cancellationToken)
    {
        try
        {
            return base.SendAsync(request, cancellationToken);
        }
        catch
        {
            Unauthorize(request, provider);
            throw;
        }
    }

    /// <summary>
    /// Waits for the provider's access token, when none was ready (a model call's token stage waits before this, so this
    /// is for the harness's other requests to the provider, such as its model list).
    /// </summary>
    private async Task<HttpResponseMessage> SendWithTokenAsync(HttpRequestMessage request, ProviderEndpoint provider, CancellationToken cancellationToken)
    {
        string token;
        try
        {
            token = await provider.Tokens!.GetAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The fixed headers are already on: a request that never left must not keep them either.
            provider.RemoveKey(request);
            throw;
        }

        provider.ApplyToken(request, token);
        return await CompleteAsync(request, provider, Leave(request, provider, cancellationToken), cancellationToken).ConfigureAwait(false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<HttpResponseMessage> CompleteAsync(HttpRequestMessage request, ProviderEndpoint? provider, Task<HttpResponseMessage> sending, CancellationToken cancellationToken)
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

        RedactHeaders(response);
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
        var provider = Authorize(request, out var ready);
        HttpResponseMessage response;
        try
        {
            if (!ready)
            {
                provider!.ApplyToken(request, provider.Tokens!.GetAsync(cancellationToken).AsTask().GetAwaiter().GetResult());
            }

            response = base.Send(request, cancellationToken);
        }
        finally
        {
            Unauthorize(request, provider);
        }

        RedactHeaders(response);
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

    private static ProviderEndpoint? Authorize(HttpRequestMessage request, out bool ready)
    {
        if (request.Options.TryGetValue(ProviderEndpoint.OptionsKey, out var provider))
        {
            ready = provider.ApplyKey(request);
            return provider;
        }

        ready = true;
        return null;
    }

    /// <summary>
    /// Takes the key off the request once it has been sent (its headers are written before an answer arrives): the
    /// first attempt of a call is the official client's own request, which the client holds on to as the answer's
    /// <see cref="HttpResponseMessage.RequestMessage"/>, and it must not carry the key out of the transport.
    /// </summary>
    private static void Unauthorize(HttpRequestMessage request, ProviderEndpoint? provider)
    {
        provider?.RemoveKey(request);
    }

    /// <summary>Replaces every response and content header value that holds a key with its redacted text.</summary>
    private void RedactHeaders(HttpResponseMessage response)
    {
        RedactHeaders(response.Headers);
        RedactHeaders(response.Content.Headers);
    }

    private void RedactHeaders(System.Net.Http.Headers.HttpHeaders headers)
    {
        List<(string Name, string[] Values)>? redacted = null;
        foreach (var header in headers.NonValidated)
        {
            foreach (var value in header.Value)
            {
                if (!redactor.MayRedact(value))
                {
                    continue;
                }

                var values = new string[header.Value.Count];
                var changed = false;
                var i = 0;
                foreach (var each in header.Value)
                {
                    values[i] = redactor.Redact(each);
                    changed |= !ReferenceEquals(values[i], each) && !string.Equals(values[i], each, StringComparison.Ordinal);
                    i++;
                }

                if (changed)
                {
                    (redacted ??= []).Add((header.Key, values));
                }

                break;
            }
        }

        if (redacted is null)
        {
            return;
        }

        // Changed after the walk: the collection is not to be changed while it is enumerated.
        foreach (var (name, values) in redacted)
        {
            headers.Remove(name);
            headers.TryAddWithoutValidation(name, values);
        }
    }

    /// <summary>Puts the buffered body back, redacted when it held a key; the content's headers stay, but its length.</summary>
    private void Replace(HttpResponseMessage response, byte[] body)
    {
        var redacted = redactor.RedactUtf8(body);
        ResponseContent.Replace(response, new ReadErrorBody(redacted ?? body));
    }
}
