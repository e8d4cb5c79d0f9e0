using AgentHarness.Pipeline.Internal;
using System.Runtime.CompilerServices;

namespace AgentHarness.Authentication.Internal;

/// <summary>
/// Has an attempt to a provider that is sent an access token wait, before anything is sent, until its token is ready;
/// when it cannot be had the attempt fails unsent, with a <see cref="ProviderCredentialException"/> naming the provider,
/// which the routing loop does not retry on that provider (a policy goes on to its next candidate). The credentials
/// handler then sets the token as the request leaves. Only in the pipeline when a provider uses tokens.
/// </summary>
internal sealed class TokenStage : IAttemptStage
{
    public bool Admit(CallContext call, Candidate candidate) => true;

    public ValueTask<AttemptResult> SendAsync(CallContext call, AttemptNext next)
    {
        var tokens = call.Attempt.Candidate.Provider.Tokens;
        return tokens is null || tokens.Ready() is not null ? next.SendAsync(call) : WaitAsync(call, tokens, next);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<AttemptResult> WaitAsync(CallContext call, TokenCache tokens, AttemptNext next)
    {
        try
        {
            await tokens.GetAsync(call.Deadline.ForCall()).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is ProviderCredentialException or OperationCanceledException)
        {
            return new AttemptResult(AttemptStatus.Failed, Exception: ex);
        }

        return await next.SendAsync(call).ConfigureAwait(false);
    }
}
