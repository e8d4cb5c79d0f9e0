using AgentHarness.Pipeline.Internal;
using Microsoft.Extensions.AI;

namespace AgentHarness.AI.Internal;

/// <summary>
/// The innermost layer of a registered embedding generator, over the official client's adapter (through
/// <see cref="ModelOverrideEmbeddingGenerator"/>): it puts the call's record on the embeddings
/// (<see cref="HarnessUsageExtensions.UsageKey"/>), as <see cref="HarnessChatClient"/> does.
/// </summary>
internal sealed class HarnessEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner)
    : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
{
    public override async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(
        IEnumerable<string> values,
        EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        GeneratedEmbeddings<Embedding<float>> embeddings;
        UsageCapture capture;
        using (UsageCapture.Open(out capture))
        {
            embeddings = await base.GenerateAsync(values, options, cancellationToken).ConfigureAwait(false);
        }

        if (capture.Last is { } record)
        {
            embeddings.AdditionalProperties = HarnessUsageExtensions.With(embeddings.AdditionalProperties, record);
        }

        return embeddings;
    }
}
