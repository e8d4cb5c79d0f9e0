using Microsoft.Extensions.AI;

namespace AgentHarness;

/// <summary>
/// Reads the harness's record of the call behind a <c>Microsoft.Extensions.AI</c> response: what it cost (exact, in US
/// dollars), where that cost comes from, the provider and model that answered, and every attempt.
/// </summary>
/// <remarks>
/// <para>
/// The clients registered with <c>AddChatClient</c> and <c>AddEmbeddingGenerator</c> put the call's
/// <see cref="UsageRecord"/> (the same instance the ledger and the open runs got) in the response's
/// <c>AdditionalProperties</c> under <see cref="UsageKey"/>: on a <see cref="ChatResponse"/>, on the last
/// <see cref="ChatResponseUpdate"/> of a stream (an update of its own, after the stream's last update, without
/// contents), and on <see cref="GeneratedEmbeddings{TEmbedding}"/>. <see cref="ChatResponse.Usage"/> is left as the
/// provider reported it: cost is never written into <see cref="UsageDetails"/>.
/// </para>
/// <para>
/// The accessors return <see langword="null"/> when no call of the harness is behind the response: a response built
/// by another client, a stream that was not read to its end, or one served by <c>Microsoft.Extensions.AI</c>'s own
/// cache (<c>UseDistributedCache</c>). A cached response keeps what was serialized of the original call's record
/// under the same key, as JSON, but that call was not made again and cost nothing this time, so the typed accessor
/// does not report it. Through <c>UseFunctionInvocation</c> a response is the last round trip's response, so it
/// carries that round trip's record; each round trip has its own in the ledger and in the run.
/// </para>
/// </remarks>
public static class HarnessUsageExtensions
{
    /// <summary>The key of the call's <see cref="UsageRecord"/> in a response's <c>AdditionalProperties</c>.</summary>
    public const string UsageKey = "agentharness.usage";

    /// <summary>Gets the harness's record of the call that produced a response.</summary>
    /// <param name="response">The response.</param>
    /// <returns>The call's record, or <see langword="null"/> when no call of the harness produced the response.</returns>
    public static UsageRecord? GetHarnessUsage(this ChatResponse response)
    {
        ArgumentNullException.ThrowIfNull(response);
        return Read(response.AdditionalProperties);
    }

    /// <summary>Gets the harness's record of a streamed call, which the stream's last update carries.</summary>
    /// <param name="update">An update of a stream.</param>
    /// <returns>The call's record on the stream's last update; <see langword="null"/> on the others, and when no call of the harness produced the stream.</returns>
    public static UsageRecord? GetHarnessUsage(this ChatResponseUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        return Read(update.AdditionalProperties);
    }

    /// <summary>Gets the harness's record of the call that generated embeddings.</summary>
    /// <typeparam name="TEmbedding">The embedding type.</typeparam>
    /// <param name="embeddings">The generated embeddings.</param>
    /// <returns>The call's record, or <see langword="null"/> when no call of the harness generated them.</returns>
    public static UsageRecord? GetHarnessUsage<TEmbedding>(this GeneratedEmbeddings<TEmbedding> embeddings)
        where TEmbedding : Embedding
    {
        ArgumentNullException.ThrowIfNull(embeddings);
        return Read(embeddings.AdditionalProperties);
    }

    /// <summary>Reads the record from a dictionary of additional properties.</summary>
    /// <param name="properties">The properties, or <see langword="null"/>.</param>
    /// <returns>The record, or <see langword="null"/> when there is none, or only its serialized form.</returns>
    public static UsageRecord? GetHarnessUsage(this AdditionalPropertiesDictionary? properties) => Read(properties);

    internal static AdditionalPropertiesDictionary With(AdditionalPropertiesDictionary? properties, UsageRecord record)
    {
        properties ??= [];
        properties[UsageKey] = record;
        return properties;
    }

    // Only the record itself: a value restored from JSON (a cache hit) is not a call the harness made.
    private static UsageRecord? Read(AdditionalPropertiesDictionary? properties) =>
        properties is not null && properties.TryGetValue(UsageKey, out var value) ? value as UsageRecord : null;
}
