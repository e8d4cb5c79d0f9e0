using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;

namespace AgentHarness.Catalog.Internal;

/// <summary>
/// The price catalog: the embedded table with configuration applied over it. Reads go to an
/// immutable snapshot, so pricing a call takes no lock; writes (rare) build a new snapshot.
/// </summary>
internal sealed class PriceCatalog : IPriceCatalog
{
    private readonly Lock _writeGate = new();
    private readonly ModelListClient _models;
    private Snapshot _snapshot;

    public PriceCatalog(IOptions<AgentHarnessOptions> options, ModelListClient models)
    {
        _models = models;
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
        Validate(model, price, nameof(price));
        lock (_writeGate)
        {
            var prices = new Dictionary<string, ModelPrice>(_snapshot.Prices, StringComparer.OrdinalIgnoreCase) { [model] = price };
            Volatile.Write(ref _snapshot, new Snapshot(prices));
        }
    }

    public IReadOnlyDictionary<string, ModelPrice> GetPrices() =>
        new Dictionary<string, ModelPrice>(Volatile.Read(ref _snapshot).Prices, StringComparer.OrdinalIgnoreCase);

    public int SetPrices(IEnumerable<DiscoveredModel> models)
    {
        ArgumentNullException.ThrowIfNull(models);
        var priced = new List<(string Id, ModelPrice Price)>();
        foreach (var model in models)
        {
            if (model is null)
            {
                throw new ArgumentException("The models must not contain null.", nameof(models));
            }

            if (model.Price is not { } price)
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(model.CatalogId))
            {
                throw new ArgumentException($"The model '{model.Id}' of provider '{model.Provider}' has no catalog id.", nameof(models));
            }

            Validate(model.CatalogId, price, nameof(models));
            priced.Add((model.CatalogId, price));
        }

        // Checked first and written in one snapshot: a bad entry changes nothing, and no call is priced
        // by half a list.
        lock (_writeGate)
        {
            var prices = new Dictionary<string, ModelPrice>(_snapshot.Prices, StringComparer.OrdinalIgnoreCase);
            foreach (var (id, price) in priced)
            {
                prices[id] = MergeListed(prices.GetValueOrDefault(id), price);
            }

            Volatile.Write(ref _snapshot, new Snapshot(prices));
        }

        return priced.Count;
    }

    public async Task<int> RefreshFromProviderAsync(string provider, CancellationToken cancellationToken = default)
    {
        var endpoint = _models.GetProvider(provider);
        var listed = await _models.ListAsync(endpoint, cancellationToken).ConfigureAwait(false);
        return SetPrices(listed);
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
                CacheWriteInputPerToken = configured.CacheWriteInputPerToken,
                ContextWindow = configured.ContextWindow,
                MaxOutputTokens = configured.MaxOutputTokens,
                Source = "configuration",
            };
        }

        // Limits alone leave the price's source and date as they were; a configured price replaces them.
        var repriced = configured.InputPerToken is not null || configured.OutputPerToken is not null || configured.CachedInputPerToken is not null || configured.CacheWriteInputPerToken is not null;
        return known with
        {
            InputPerToken = configured.InputPerToken ?? known.InputPerToken,
            OutputPerToken = configured.OutputPerToken ?? known.OutputPerToken,
            CachedInputPerToken = configured.CachedInputPerToken ?? known.CachedInputPerToken,
            CacheWriteInputPerToken = configured.CacheWriteInputPerToken ?? known.CacheWriteInputPerToken,
            ContextWindow = configured.ContextWindow ?? known.ContextWindow,
            MaxOutputTokens = configured.MaxOutputTokens ?? known.MaxOutputTokens,
            Source = repriced ? "configuration" : known.Source,
            AsOf = repriced ? null : known.AsOf,
        };
    }

    /// <summary>
    /// A listed price over what the catalog knows: the list's values win, and a context window, max
    /// output or cached price the list lacks is kept.
    /// </summary>
    private static ModelPrice MergeListed(ModelPrice? known, ModelPrice listed) =>
        known is null
            ? listed
            : listed with
            {
                ContextWindow = listed.ContextWindow ?? known.ContextWindow,
                MaxOutputTokens = listed.MaxOutputTokens ?? known.MaxOutputTokens,
                CachedInputPerToken = listed.CachedInputPerToken ?? known.CachedInputPerToken,
                CacheWriteInputPerToken = listed.CacheWriteInputPerToken ?? known.CacheWriteInputPerToken,
            };

    private static void Validate(string model, ModelPrice price, string paramName)
    {
        if (price.InputPerToken < 0 || price.OutputPerToken < 0 || price.CachedInputPerToken < 0 || price.CacheWriteInputPerToken < 0)
        {
            throw new ArgumentException($"The prices of '{model}' must not be negative (input {price.InputPerToken}, output {price.OutputPerToken}, cached input {price.CachedInputPerToken}).", paramName);
        }

        if (price.ContextWindow <= 0 || price.MaxOutputTokens <= 0)
        {
            throw new ArgumentException($"The limits of '{model}' must be greater than zero when set (context window {price.ContextWindow}, max output tokens {price.MaxOutputTokens}).", paramName);
        }
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
