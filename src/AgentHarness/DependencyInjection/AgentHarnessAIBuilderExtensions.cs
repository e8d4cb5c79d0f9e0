using AgentHarness;
using AgentHarness.AI.Internal;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers keyed <c>Microsoft.Extensions.AI</c> clients (<see cref="IChatClient"/>,
/// <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>) bound to a model or policy id of the harness.
/// </summary>
/// <remarks>
/// <para>
/// A client resolved by its key is the harness's own official client for the id
/// (<see cref="IAgentHarness.GetChatClient"/>, <see cref="IAgentHarness.GetEmbeddingClient"/>) behind
/// <c>Microsoft.Extensions.AI.OpenAI</c>'s adapter, so every call is routed (with a policy's fallback), held to the
/// budgets of the open runs, tagged with their metadata and recorded. Innermost, over the adapter, a layer puts each
/// call's <see cref="UsageRecord"/> on its response (<see cref="HarnessUsageExtensions"/>); the application's own
/// pipeline, set with <c>configure</c>, wraps it.
/// </para>
/// <para>
/// A call whose options name another model or policy id (<see cref="ChatOptions.ModelId"/>,
/// <see cref="Microsoft.Extensions.AI.EmbeddingGenerationOptions.ModelId"/>) is served by the harness's client for
/// that id: routed, priced and held to the budgets as that id, and refused with an
/// <see cref="UnroutableModelException"/> when it cannot be routed. The registered id, or the model name its client
/// sends, is the registered client's call.
/// </para>
/// <para>
/// Under a host, the id of every registration is routed at start: an id that no provider or policy can serve fails
/// the start with an <see cref="InvalidOperationException"/> naming the registration and the id, for example
/// <c>AddChatClient("reviewer", "policy/claude-5"): the model id 'policy/claude-5' cannot be routed: ...</c>. Without
/// a host, the same error is thrown when the client is first resolved.
/// </para>
/// </remarks>
public static class AgentHarnessAIBuilderExtensions
{
    /// <summary>Registers a keyed singleton <see cref="IChatClient"/> for a model or policy id.</summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="serviceKey">The key to resolve the client by, for example <c>reviewer</c>.</param>
    /// <param name="model">The model or policy id, for example <c>policy/claude-4</c>.</param>
    /// <param name="configure">
    /// Adds the application's own layers over the harness's client, or <see langword="null"/>; for example
    /// <c>b =&gt; b.UseFunctionInvocation()</c>.
    /// </param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException"><paramref name="serviceKey"/> or <paramref name="model"/> is empty, or a chat client was already registered under <paramref name="serviceKey"/> through this method.</exception>
    /// <example>
    /// <code>
    /// services.AddAgentHarness(configuration.GetSection("AgentHarness"))
    ///     .AddChatClient("reviewer", "policy/claude-4", b => b.UseFunctionInvocation())
    ///     .AddEmbeddingGenerator("embed", "openai/text-embedding-3-small");
    /// IChatClient reviewer = provider.GetRequiredKeyedService&lt;IChatClient&gt;("reviewer");
    /// </code>
    /// </example>
    public static IAgentHarnessBuilder AddChatClient(this IAgentHarnessBuilder builder, string serviceKey, string model, Action<ChatClientBuilder>? configure = null)
    {
        var registration = Register(builder, nameof(AddChatClient), serviceKey, model, embeddings: false);
        var clientBuilder = builder.Services.AddKeyedChatClient(
            serviceKey,
            sp =>
            {
                var harness = sp.GetRequiredService<IAgentHarness>();
                return new HarnessChatClient(new ModelOverrideChatClient(harness, model, (ChatClient)ClientRegistrationCheck.Route(harness, registration)));
            });
        configure?.Invoke(clientBuilder);
        return builder;
    }

    /// <summary>Registers a keyed singleton <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of strings for a model or policy id.</summary>
    /// <param name="builder">The harness builder.</param>
    /// <param name="serviceKey">The key to resolve the generator by, for example <c>embed</c>.</param>
    /// <param name="model">The model or policy id, for example <c>openai/text-embedding-3-small</c>.</param>
    /// <param name="configure">Adds the application's own layers over the harness's generator, or <see langword="null"/>.</param>
    /// <returns>The builder, to chain calls.</returns>
    /// <exception cref="ArgumentException"><paramref name="serviceKey"/> or <paramref name="model"/> is empty, or an embedding generator was already registered under <paramref name="serviceKey"/> through this method.</exception>
    public static IAgentHarnessBuilder AddEmbeddingGenerator(
        this IAgentHarnessBuilder builder,
        string serviceKey,
        string model,
        Action<EmbeddingGeneratorBuilder<string, Embedding<float>>>? configure = null)
    {
        var registration = Register(builder, nameof(AddEmbeddingGenerator), serviceKey, model, embeddings: true);
        var generatorBuilder = builder.Services.AddKeyedEmbeddingGenerator(
            serviceKey,
            sp =>
            {
                var harness = sp.GetRequiredService<IAgentHarness>();
                return new HarnessEmbeddingGenerator(new ModelOverrideEmbeddingGenerator(harness, model, (EmbeddingClient)ClientRegistrationCheck.Route(harness, registration)));
            });
        configure?.Invoke(generatorBuilder);
        return builder;
    }

    private static ClientRegistration Register(IAgentHarnessBuilder builder, string method, string serviceKey, string model, bool embeddings)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(serviceKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        foreach (var descriptor in builder.Services)
        {
            if (descriptor.ImplementationInstance is ClientRegistration known && known.Embeddings == embeddings && known.ServiceKey == serviceKey)
            {
                throw new ArgumentException($"{method}: a client was already registered under the key '{serviceKey}' (for '{known.Model}').", nameof(serviceKey));
            }
        }

        var registration = new ClientRegistration(method, serviceKey, model, embeddings);
        builder.Services.AddSingleton(registration);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ClientRegistrationCheck>());
        return registration;
    }
}
