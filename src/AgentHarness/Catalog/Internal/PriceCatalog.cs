using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using AgentHarness.Routing.Internal;
using Microsoft.Extensions.Options;

namespace AgentHarness.Catalog.Internal;

/// <summary>
/// The price catalog: the embedded table with configuration applied over it. Reads go to an
/// immutable snapshot, so pricing a call takes no lock; writes (rare) build a new snapshot.
/// </summary>
internal sealed class PriceCatalog : IPriceCatalog
{
    public const string ManagementClientName = "AgentHarness.Management";

    private readonly Lock _writeGate = new();
    private readonly ProviderRegistry _registry;
    private readonly IHttpClientFactory _httpClientFactory;
    private readonly TimeProvider _timeProvider;
    private Snapshot _snapshot;

    public PriceCatalog(IOptions<AgentHarnessOptions> options, ProviderRegistry registry, IHttpClientFactory httpClientFactory, TimeProvider timeProvider)
    {
        _registry = registry;
        _httpClientFactory = httpClientFactory;
        _timeProvider = timeProvider;
        var prices = new Dictionary<string, ModelPrice>(EmbeddedPrices.Load(), StringComparer.OrdinalIgnoreCase);
        foreach (var (id, configured) in options.Value.Catalog.Models)
        {
            prices[id] = Merge(prices.GetValueOrDefault(id), configured);
        }

        _snapshot = new Snapshot(prices);
    }

    public bool TryGetPrice(string model, [NotNullWhen(true)] out ModelPrice? price)
    {
        ArgumentNullException.ThrowIfNull(model);
        price = Volatile.Read(ref _snapshot).Find(model);
        return price is not null;
    }

    public void SetPrice(string model, ModelPrice price)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(model);
        ArgumentNullException.ThrowIfNull(price);
        Validate(model, price);
        lock (_writeGate)
        {
            var prices = new Dictionary<string, ModelPrice>(_snapshot.Prices, StringComparer.OrdinalIgnoreCase) { [model] = price };
            Volatile.Write(ref _snapshot, new Snapshot(prices));
        }
    }

    public IReadOnlyDictionary<string, ModelPrice> GetPrices() =>
        new Dictionary<string, ModelPrice>(Volatile.Read(ref _snapshot).Prices, StringComparer.OrdinalIgnoreCase);

    public async Task<int> RefreshFromProviderAsync(string provider, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(provider);
        var endpoint = _registry.FindProvider(provider)
            ?? throw new ArgumentException($"No provider named '{provider}' is configured ({string.Join(", ", _registry.ProviderNames)}).", nameof(provider));

        using var request = new HttpRequestMessage(HttpMethod.Get, endpoint.BuildUri("/models"));
        endpoint.Authorize(request);
        var client = _httpClientFactory.CreateClient(ManagementClientName);
        using var response = await client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException(
                $"GET /models of provider '{endpoint.Name}' answered HTTP {(int)response.StatusCode}: {Excerpt(endpoint.Redact(System.Text.Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, 64 * 1024))))}",
                inner: null,
                response.StatusCode);
        }

        var source = $"GET /models of provider '{endpoint.Name}'";
        var listed = ModelListParser.Parse(body, source, DateOnly.FromDateTime(_timeProvider.GetUtcNow().UtcDateTime));
        var updated = 0;
        lock (_writeGate)
        {
            var prices = new Dictionary<string, ModelPrice>(_snapshot.Prices, StringComparer.OrdinalIgnoreCase);
            foreach (var model in listed)
            {
                if (model.Price is not { } price)
                {
                    continue;
                }

                // A gateway lists the ids it is called with; another provider lists its bare names.
                var id = endpoint.IsGateway ? model.Id : endpoint.Name + "/" + model.Id;
                if (prices.TryGetValue(id, out var known))
                {
                    price = price with
                    {
                        ContextWindow = price.ContextWindow ?? known.ContextWindow,
                        MaxOutputTokens = price.MaxOutputTokens ?? known.MaxOutputTokens,
                        CachedInputPerToken = price.CachedInputPerToken ?? known.CachedInputPerToken,
                    };
                }

                prices[id] = price;
                updated++;
            }

            Volatile.Write(ref _snapshot, new Snapshot(prices));
        }

        return updated;
    }

    /// <summary>Finds a candidate's price by the id it is sent as.</summary>
    public ModelPrice? Find(string catalogId) => Volatile.Read(ref _snapshot).Find(catalogId);

    internal static ModelPrice Merge(ModelPrice? known, ModelPriceOptions configured)
    {
        if (known is null)
        {
            return new ModelPrice
            {
                // The validator has made sure a model the table lacks has both prices.
                InputPerToken = configured.InputPerToken ?? 0m,
                OutputPerToken = configured.OutputPerToken ?? 0m,
                CachedInputPerToken = configured.CachedInputPerToken,
                ContextWindow = configured.ContextWindow,
                MaxOutputTokens = configured.MaxOutputTokens,
                Source = "configuration",
            };
        }

        // Limits alone leave the price's source and date as they were; a configured price replaces them.
        var repriced = configured.InputPerToken is not null || configured.OutputPerToken is not null || configured.CachedInputPerToken is not null;
        return known with
        {
            InputPerToken = configured.InputPerToken ?? known.InputPerToken,
            OutputPerToken = configured.OutputPerToken ?? known.OutputPerToken,
            CachedInputPerToken = configured.CachedInputPerToken ?? known.CachedInputPerToken,
            ContextWindow = configured.ContextWindow ?? known.ContextWindow,
            MaxOutputTokens = configured.MaxOutputTokens ?? known.MaxOutputTokens,
            Source = repriced ? "configuration" : known.Source,
            AsOf = repriced ? null : known.AsOf,
        };
    }

    private static void Validate(string model, ModelPrice price)
    {
        if (price.InputPerToken < 0 || price.OutputPerToken < 0 || price.CachedInputPerToken < 0)
        {
            throw new ArgumentException($"The prices of '{model}' must not be negative (input {price.InputPerToken}, output {price.OutputPerToken}, cached input {price.CachedInputPerToken}).", nameof(price));
        }

        if (price.ContextWindow <= 0 || price.MaxOutputTokens <= 0)
        {
            throw new ArgumentException($"The limits of '{model}' must be greater than zero when set (context window {price.ContextWindow}, max output tokens {price.MaxOutputTokens}).", nameof(price));
        }
    }

    /// <summary>The start of an error body for a message: redacted first, so a key cut in two cannot show.</summary>
    private static string Excerpt(string body)
    {
        var text = body.ReplaceLineEndings(" ");
        return text.Length > 300 ? text[..300] + "..." : text;
    }

    /// <summary>An immutable set of prices with its lookups.</summary>
    private sealed class Snapshot
    {
        private const int MaxCachedLookups = 4096;

        // Lookups that needed a fallback (or found nothing) are remembered, so that pricing a call
        // to such an id does not rebuild strings each time. Bounded: ids come from callers.
        private readonly ConcurrentDictionary<string, ModelPrice?> _resolved = new(StringComparer.OrdinalIgnoreCase);
        private readonly Dictionary<string, string?> _byBareName = new(StringComparer.OrdinalIgnoreCase);

        public Snapshot(Dictionary<string, ModelPrice> prices)
        {
            Prices = prices;
            foreach (var id in prices.Keys)
            {
                var bare = BareName(id);
                // Null marks a bare name that more than one id ends with: too ambiguous to price by.
                _byBareName[bare] = _byBareName.ContainsKey(bare) ? null : id;
            }
        }

        public Dictionary<string, ModelPrice> Prices { get; }

        public ModelPrice? Find(string id)
        {
            if (Prices.TryGetValue(id, out var price))
            {
                return price;
            }

            if (_resolved.TryGetValue(id, out price))
            {
                return price;
            }

            price = Fallback(id);
            if (_resolved.Count < MaxCachedLookups)
            {
                _resolved.TryAdd(id, price);
            }

            return price;
        }

        private ModelPrice? Fallback(string id)
        {
            var undated = WithoutDateSuffix(id);
            if (undated is not null && Prices.TryGetValue(undated, out var price))
            {
                return price;
            }

            var bare = BareName(undated ?? id);
            return _byBareName.TryGetValue(bare, out var match) && match is not null ? Prices[match] : null;
        }

        private static string BareName(string id)
        {
            var slash = id.LastIndexOf('/');
            return slash < 0 ? id : id[(slash + 1)..];
        }

        /// <summary>Strips a snapshot date: <c>-2025-04-14</c> or <c>-20250929</c>.</summary>
        internal static string? WithoutDateSuffix(string id)
        {
            var span = id.AsSpan();
            if (span.Length > 11 && span[^11] == '-' && IsDigits(span[^10..^6]) && span[^6] == '-' && IsDigits(span[^5..^3]) && span[^3] == '-' && IsDigits(span[^2..]))
            {
                return id[..^11];
            }

            if (span.Length > 9 && span[^9] == '-' && IsDigits(span[^8..]) && span[^8] == '2')
            {
                return id[..^9];
            }

            return null;
        }

        private static bool IsDigits(ReadOnlySpan<char> span)
        {
            foreach (var c in span)
            {
                if (!char.IsAsciiDigit(c))
                {
                    return false;
                }
            }

            return true;
        }
    }
}
