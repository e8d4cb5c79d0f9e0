namespace AgentHarness;

/// <summary>
/// Thrown when a call is refused before anything is sent because the price catalog has no price
/// for its model and <see cref="CatalogOptions.UnpricedModels"/> is <see cref="UnpricedModelHandling.Refuse"/>.
/// </summary>
public sealed class UnpricedModelException : Exception
{
    /// <summary>Initializes a new instance of the <see cref="UnpricedModelException"/> class.</summary>
    public UnpricedModelException()
        : this("The model has no price.")
    {
    }

    /// <summary>Initializes a new instance of the <see cref="UnpricedModelException"/> class.</summary>
    /// <param name="message">The message.</param>
    public UnpricedModelException(string message)
        : base(message)
    {
        Model = string.Empty;
        CatalogIds = [];
    }

    /// <summary>Initializes a new instance of the <see cref="UnpricedModelException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public UnpricedModelException(string message, Exception innerException)
        : base(message, innerException)
    {
        Model = string.Empty;
        CatalogIds = [];
    }

    /// <summary>Initializes a new instance of the <see cref="UnpricedModelException"/> class.</summary>
    /// <param name="model">The model id the call asked for.</param>
    /// <param name="catalogIds">The catalog ids that were looked up, one per candidate.</param>
    public UnpricedModelException(string model, IReadOnlyList<string> catalogIds)
        : base(Describe(model, catalogIds))
    {
        Model = model;
        CatalogIds = catalogIds;
    }

    /// <summary>Gets the model id the call asked for.</summary>
    public string Model { get; }

    /// <summary>Gets the price catalog ids that had no price, one per candidate of the call.</summary>
    public IReadOnlyList<string> CatalogIds { get; }

    private static string Describe(string model, IReadOnlyList<string> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var first = ids.Count > 0 ? ids[0] : model;
        var which = ids.Count == 1 && string.Equals(ids[0], model, StringComparison.OrdinalIgnoreCase)
            ? $"'{model}'"
            : $"'{model}' (looked up as {string.Join(", ", ids.Select(static id => $"'{id}'"))})";
        return $"The call to {which} was refused before sending: the price catalog has no price for it, so its cost could not be recorded or held to a budget. " +
            $"Add one under AgentHarness:Catalog:Models:{first} (InputPerToken and OutputPerToken in US dollars per token), call IPriceCatalog.SetPrice or RefreshFromProviderAsync, " +
            "or set AgentHarness:Catalog:UnpricedModels to Allow to send such calls and record them as unpriced.";
    }
}
