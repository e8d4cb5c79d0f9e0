using System.Runtime.CompilerServices;
using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.AI;

namespace AgentHarness.AI.Internal;

/// <summary>
/// The innermost layer of a registered <see cref="IChatClient"/>, over the official client's adapter (through
/// <see cref="ModelOverrideChatClient"/>, which picks the adapter of the id a call names): it opens a
/// <see cref="UsageCapture"/> around each call it passes down and puts the call's record on what comes back
/// (<see cref="HarnessUsageExtensions.UsageKey"/>).
/// </summary>
internal sealed class HarnessChatClient(IChatClient inner) : DelegatingChatClient(inner)
{
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ChatResponse response;
        UsageCapture capture;
        using (UsageCapture.Open(out capture))
        {
            response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        if (capture.Last is { } record)
        {
            response.AdditionalProperties = HarnessUsageExtensions.With(response.AdditionalProperties, record);
        }

        return response;
    }

    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        UsageCapture capture;
        bool more;
        var updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            // The request is sent on the first move: the scope must be current then, and only then.
            using (UsageCapture.Open(out capture))
            {
                more = await updates.MoveNextAsync().ConfigureAwait(false);
            }

            ChatResponseUpdate? last = null;
            while (more)
            {
                last = updates.Current;
                yield return last;
                more = await updates.MoveNextAsync().ConfigureAwait(false);
            }

            // The call ends when its stream reaches its end, so its record exists once the updates are done. It goes on an
            // update of its own rather than on the last one held back, which would delay every update by one. It names no
            // message and no role, so that ToChatResponse adds no message for it and keeps its properties on the response.
            if (capture.Last is { } record)
            {
                yield return new ChatResponseUpdate
                {
                    ResponseId = last?.ResponseId,
                    ConversationId = last?.ConversationId,
                    ModelId = last?.ModelId,
                    CreatedAt = last?.CreatedAt,
                    AdditionalProperties = HarnessUsageExtensions.With(null, record),
                };
            }
        }
        finally
        {
            await updates.DisposeAsync().ConfigureAwait(false);
        }
    }
}
