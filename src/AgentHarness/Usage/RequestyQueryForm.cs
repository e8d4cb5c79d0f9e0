namespace AgentHarness;

/// <summary>How <see cref="RequestyUsageClient"/> sends a usage query's parameters to Requesty.</summary>
public enum RequestyQueryForm
{
    /// <summary>
    /// As a JSON body on the <c>GET</c>, the form Requesty documents for an API key's usage:
    /// <c>{"start":"…","end":"…","resolution":"day","group_by":["model_requested"]}</c>, with
    /// <c>Content-Type: application/json</c>.
    /// </summary>
    JsonBody,

    /// <summary>
    /// In the query string, the form Requesty documents for the organisation's usage, and the one for
    /// HTTP stacks (proxies, some gateways) that drop or refuse a body on a <c>GET</c>: <c>?start=…&amp;end=…&amp;resolution=day&amp;group_by=model_requested&amp;group_by=extra.agent</c>,
    /// one <c>group_by</c> per key.
    /// </summary>
    QueryString,
}
