using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace AgentHarness;

/// <summary>
/// Hands out official OpenAI clients whose every request goes through the in-process gateway
/// (routing, provider credentials, run metadata, usage records), and opens agent runs.
/// </summary>
/// <remarks>
/// A model id is <c>provider/model</c> (sent to that provider with the bare model name), an id of a
/// provider that is not configured (sent to the gateway with the full id, for example
/// <c>policy/claude-4</c>), or a bare name (sent to <see cref="AgentHarnessOptions.DefaultProvider"/>).
/// Clients are cached per model id and are safe to share between threads.
/// </remarks>
public interface IAgentHarness
{
    /// <summary>Gets a chat client for a model id.</summary>
    /// <param name="model">The model id, for example <c>openai/gpt-4.1-nano</c>.</param>
    /// <returns>An official <see cref="ChatClient"/>.</returns>
    /// <exception cref="UnroutableModelException">No configured provider can serve <paramref name="model"/>.</exception>
    ChatClient GetChatClient(string model);

    /// <summary>Gets an embedding client for a model id.</summary>
    /// <param name="model">The model id, for example <c>openai/text-embedding-3-small</c>.</param>
    /// <returns>An official <see cref="EmbeddingClient"/>.</returns>
    /// <exception cref="UnroutableModelException">No configured provider can serve <paramref name="model"/>.</exception>
    EmbeddingClient GetEmbeddingClient(string model);

    /// <summary>
    /// Gets the root official client, for the other APIs (Responses, audio, images, ...). The model
    /// each request names is routed like any other.
    /// </summary>
    /// <returns>An official <see cref="OpenAIClient"/>.</returns>
    OpenAIClient GetOpenAIClient();

    /// <summary>
    /// Opens an agent run and makes it <see cref="AgentRun.Current"/> until it is disposed.
    /// </summary>
    /// <param name="agent">The agent's name, for example <c>code-review-agent</c>.</param>
    /// <param name="configure">Sets the run's metadata before it becomes current, or <see langword="null"/>.</param>
    /// <returns>The run; dispose it to end it.</returns>
    /// <exception cref="ArgumentException"><paramref name="agent"/> is empty or not allowed as metadata, or <paramref name="configure"/> set a value that is not allowed.</exception>
    AgentRun BeginRun(string agent, Action<AgentRun>? configure = null);
}
