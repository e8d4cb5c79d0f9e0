using Microsoft.Extensions.AI;

namespace AgentHarness.AI.Internal;

/// <summary>
/// The layer of a registered embedding generator directly over the official client's adapter: a call whose
/// <see cref="EmbeddingGenerationOptions.ModelId"/> names another model or policy id goes through the harness's client
/// for that id, as <see cref="ModelOverrideChatClient"/> does for chat (<see cref="ModelOverrides{TClient}"/>).
/// </summary>
internal sealed class ModelOverrideEmbeddingGenerator : DelegatingEmbeddingGenerator<string, Embedding<float>>
{
    private readonly ModelOverrides<IEmbeddingGenerator<string, Embedding<float>>> _overrides;

    /// <summary>Initializes a new instance of the <see cref="ModelOverrideEmbeddingGenerator"/> class.</summary>
    /// <param name="harness">The harness, for the clients of other ids.</param>
    /// <param name="model">The id the generator was registered for.</param>
    /// <param name="registered">The harness's client for <paramref name="model"/>.</param>
    public ModelOverrideEmbeddingGenerator(IAgentHarness harness, string model, OpenAI.Embeddings.EmbeddingClient registered)
        : base(registered.AsIEmbeddingGenerator())
    {
        // The adapter's metadata names the model its client writes into its bodies (EmbeddingClient.Model, which is marked for evaluation).
        var bodyModel = InnerGenerator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId ?? model;
        _overrides = new ModelOverrides<IEmbeddingGenerator<string, Embedding<float>>>(
            model,
            bodyModel,
            InnerGenerator,
            id => harness.GetEmbeddingClient(id).AsIEmbeddingGenerator());
    }

    public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default) =>
        _overrides.For(options?.ModelId) is { } generator
            ? generator.GenerateAsync(values, WithoutModelId(options!), cancellationToken)
            : base.GenerateAsync(values, options, cancellationToken);

    // A copy: the caller's options may be shared between calls and threads.
    private static EmbeddingGenerationOptions WithoutModelId(EmbeddingGenerationOptions options)
    {
        var copy = options.Clone();
        copy.ModelId = null;
        return copy;
    }
}
