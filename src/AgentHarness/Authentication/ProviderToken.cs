namespace AgentHarness;

/// <summary>An access token a <see cref="ProviderTokenSource"/> issued, and how long it may be used.</summary>
/// <remarks><see cref="ToString"/> never shows the token.</remarks>
public sealed class ProviderToken
{
    /// <summary>Initializes a new instance of the <see cref="ProviderToken"/> class.</summary>
    /// <param name="value">The token, sent as <c>Authorization: Bearer &lt;value&gt;</c>.</param>
    /// <param name="expiresOn">When the token stops being accepted.</param>
    /// <exception cref="ArgumentException"><paramref name="value"/> is empty, or holds a character that cannot be sent in a header.</exception>
    public ProviderToken(string value, DateTimeOffset expiresOn)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        foreach (var c in value)
        {
            if (c is < (char)0x21 or > (char)0x7E)
            {
                // The token itself is not quoted: it is a credential.
                throw new ArgumentException("The token contains a character that cannot be sent in an HTTP header (a control, space or non-ASCII character).", nameof(value));
            }
        }

        Value = value;
        ExpiresOn = expiresOn;
    }

    /// <summary>Gets the token.</summary>
    public string Value { get; }

    /// <summary>Gets when the token stops being accepted.</summary>
    public DateTimeOffset ExpiresOn { get; }

    /// <summary>Gets when the issuer suggests asking for a new token, or <see langword="null"/> to refresh five minutes before <see cref="ExpiresOn"/>.</summary>
    public DateTimeOffset? RefreshOn { get; init; }

    /// <summary>Describes the token without showing it.</summary>
    /// <returns>The token's expiry.</returns>
    public override string ToString() => $"ProviderToken (expires {ExpiresOn:O})";
}
