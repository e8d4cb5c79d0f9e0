using System.Collections.Frozen;
using System.Globalization;
using System.Text.Json;

namespace AgentHarness.Catalog.Internal;

/// <summary>
/// The price table shipped inside the assembly (<c>Catalog/prices.json</c>): what the catalog knows
/// before configuration or a provider's model list says otherwise.
/// </summary>
internal static class EmbeddedPrices
{
    internal const string ResourceName = "AgentHarness.Catalog.prices.json";

    // Read once: the table never changes while the process runs, and every catalog starts from it.
    private static readonly Lazy<IReadOnlyDictionary<string, ModelPrice>> Table = new(ReadResource);

    /// <summary>Gets the embedded prices keyed by <c>vendor/model</c> id, ignoring case.</summary>
    /// <exception cref="InvalidOperationException">The embedded table is missing or malformed.</exception>
    public static IReadOnlyDictionary<string, ModelPrice> Load() => Table.Value;

    /// <summary>Reads a table in the embedded format.</summary>
    /// <exception cref="InvalidOperationException">The table is malformed; the message names the entry.</exception>
    internal static IReadOnlyDictionary<string, ModelPrice> Parse(ReadOnlyMemory<byte> json)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"The embedded price table is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object
                || !document.RootElement.TryGetProperty("models", out var models)
                || models.ValueKind != JsonValueKind.Array)
            {
                throw new InvalidOperationException("The embedded price table must be an object with a 'models' array.");
            }

            var prices = new Dictionary<string, ModelPrice>(StringComparer.OrdinalIgnoreCase);
            var index = 0;
            foreach (var entry in models.EnumerateArray())
            {
                var (id, price) = ReadEntry(entry, index);
                if (!prices.TryAdd(id, price))
                {
                    throw new InvalidOperationException($"The embedded price table lists '{id}' twice.");
                }

                index++;
            }

            return prices.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        }
    }

    private static IReadOnlyDictionary<string, ModelPrice> ReadResource()
    {
        using var stream = typeof(EmbeddedPrices).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"The embedded resource '{ResourceName}' is missing from the assembly.");
        using var buffer = new MemoryStream(capacity: (int)stream.Length);
        stream.CopyTo(buffer);
        var json = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);

        // An editor may save the file with a byte order mark, which the JSON parser rejects.
        return Parse(json.Span.StartsWith("\uFEFF"u8) ? json[3..] : json);
    }

    private static (string Id, ModelPrice Price) ReadEntry(JsonElement entry, int index)
    {
        if (entry.ValueKind != JsonValueKind.Object)
        {
            throw Malformed($"entry #{index}", "is not an object");
        }

        var name = entry.TryGetProperty("id", out var idElement) && idElement.ValueKind == JsonValueKind.String
            ? idElement.GetString()
            : null;
        if (string.IsNullOrWhiteSpace(name))
        {
            throw Malformed($"entry #{index}", "has no 'id' string");
        }

        var label = $"entry #{index} ('{name}')";
        decimal? input = null, output = null, cached = null;
        int? contextWindow = null, maxOutputTokens = null;
        string? source = null;
        DateOnly? asOf = null;
        foreach (var property in entry.EnumerateObject())
        {
            // Unknown names are rejected rather than ignored: in a hand-kept file they are typos.
            switch (property.Name)
            {
                case "id":
                    break;
                case "inputPerToken":
                    input = Price(property, label);
                    break;
                case "outputPerToken":
                    output = Price(property, label);
                    break;
                case "cachedInputPerToken":
                    cached = Price(property, label);
                    break;
                case "contextWindow":
                    contextWindow = Limit(property, label);
                    break;
                case "maxOutputTokens":
                    maxOutputTokens = Limit(property, label);
                    break;
                case "source":
                    source = property.Value.ValueKind == JsonValueKind.String
                        ? property.Value.GetString()
                        : throw Malformed(label, "has a 'source' that is not a string");
                    break;
                case "asOf":
                    asOf = property.Value.ValueKind == JsonValueKind.String
                        && DateOnly.TryParseExact(property.Value.GetString(), "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
                        ? date
                        : throw Malformed(label, "has an 'asOf' that is not a yyyy-MM-dd date");
                    break;
                default:
                    throw Malformed(label, $"has an unknown property '{property.Name}'");
            }
        }

        if (input is null || output is null)
        {
            throw Malformed(label, "needs both 'inputPerToken' and 'outputPerToken'");
        }

        return (name, new ModelPrice
        {
            InputPerToken = input.Value,
            OutputPerToken = output.Value,
            CachedInputPerToken = cached,
            ContextWindow = contextWindow,
            MaxOutputTokens = maxOutputTokens,
            Source = source,
            AsOf = asOf,
        });
    }

    private static decimal Price(JsonProperty property, string label) =>
        property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetDecimal(out var value) && value >= 0
            ? value
            : throw Malformed(label, $"has a '{property.Name}' that is not a non-negative number");

    private static int Limit(JsonProperty property, string label) =>
        property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt32(out var value) && value > 0
            ? value
            : throw Malformed(label, $"has a '{property.Name}' that is not a positive whole number");

    private static InvalidOperationException Malformed(string label, string problem) =>
        new($"The embedded price table's {label} {problem}.");
}
