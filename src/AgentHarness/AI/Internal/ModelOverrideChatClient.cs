using Microsoft.Extensions.AI;

namespace AgentHarness.AI.Internal;

/// <summary>
/// The layer of a registered <see cref="IChatClient"/> directly over the official client's adapter: a call whose
/// <see cref="ChatOptions.ModelId"/> names another model or policy id goes through the harness's client for that id,
/// so it is routed, priced and held to the budgets as that id (<see cref="ModelOverrides{TClient}"/>).
/// </summary>
/// <remarks>
/// <see cref="DelegatingChatClient.GetService"/> is the registered adapter's: the client's metadata names the
/// registered model. The adapters of other ids are not disposed with the client: they own nothing, their clients are
/// the harness's.
/// </remarks>
internal sealed class ModelOverrideChatClient : DelegatingChatClient
{
    private readonly ModelOverrides<IChatClient> _overrides;

    /// <summary>Initializes a new instance of the <see cref="ModelOverrideChatClient"/> class.</summary>
    /// <param name="harness">The harness, for the clients of other ids.</param>
    /// <param name="model">The id the client was registered for.</param>
    /// <param name="registered">The harness's client for <paramref name="model"/>.</param>
    public ModelOverrideChatClient(IAgentHarness harness, string model, OpenAI.Chat.ChatClient registered)
        : base(registered.AsIChatClient())
    {
        // The adapter's metadata names the model its client writes into its bodies (ChatClient.Model, which is marked for evaluation).
        var bodyModel = InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId ?? model;
        _overrides = new ModelOverrides<IChatClient>(model, bodyModel, InnerClient, id => harness.GetChatClient(id).AsIChatClient());
    }

    public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default) =>
        _overrides.For(options?.ModelId) is { } client
            ? client.GetResponseAsync(messages, WithoutModelId(options!), cancellationToken)
            : base.GetResponseAsync(messages, options, cancellationToken);

    public override IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages,
        ChatOptions? options = null,
        CancellationToken cancellationToken = default) =>
        _overrides.For(options?.ModelId) is { } client
            ? client.GetStreamingResponseAsync(messages, WithoutModelId(options!), cancellationToken)
            : base.GetStreamingResponseAsync(messages, options, cancellationToken);

    // A copy: the caller's options may be shared between calls and threads.
    private static ChatOptions WithoutModelId(ChatOptions options)
    {
        var copy = options.Clone();
        copy.ModelId = null;
        return copy;
    }
}
