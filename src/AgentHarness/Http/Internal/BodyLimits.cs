namespace AgentHarness.Http.Internal;

/// <summary>
/// How much of an upstream's answer the harness holds at once: a whole non-streamed answer (after
/// decompression), and one server-sent event of a stream. Bytes from outside are not trusted to be
/// of a sane size, and without these an endless or inflating body would take the process's memory.
/// </summary>
/// <param name="MaxResponseBytes">The most bytes a non-streamed answer (and what a stream's peek buffers) may have.</param>
/// <param name="MaxStreamEventBytes">The most bytes one event of a stream may have.</param>
internal sealed record BodyLimits(int MaxResponseBytes, int MaxStreamEventBytes)
{
    /// <summary>The default of <see cref="AgentHarnessOptions.MaxResponseBytes"/>: far above any real answer, far below the machine.</summary>
    public const int DefaultMaxResponseBytes = 32 * 1024 * 1024;

    /// <summary>The default of <see cref="AgentHarnessOptions.MaxStreamEventBytes"/>.</summary>
    public const int DefaultMaxStreamEventBytes = 4 * 1024 * 1024;

    /// <summary>The smallest value either limit may be set to.</summary>
    public const int MinBytes = 1024;

    /// <summary>The largest value either limit may be set to.</summary>
    public const int MaxBytes = 1024 * 1024 * 1024;

    public static BodyLimits Default { get; } = new(DefaultMaxResponseBytes, DefaultMaxStreamEventBytes);

    /// <summary>The limits the options set; an event is never allowed more than a whole answer.</summary>
    public static BodyLimits From(AgentHarnessOptions options) =>
        new(options.MaxResponseBytes, Math.Min(options.MaxStreamEventBytes, options.MaxResponseBytes));
}
