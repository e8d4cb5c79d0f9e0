using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AgentHarness.Configuration.Internal;

/// <summary>
/// Binds options from a configuration section so that nothing in it is lost in silence: every
/// value that does not convert and every key that names no setting fails validation at start,
/// all of them in one <see cref="OptionsValidationException"/> (see <see cref="ConfigurationChecker"/>).
/// Every package binds its sections through <see cref="BindChecked"/>, instead of <c>Bind</c>.
/// </summary>
internal static class CheckedBinding
{
    /// <summary>Binds <paramref name="section"/> to the options, checked when they are created.</summary>
    /// <typeparam name="TOptions">The options type.</typeparam>
    /// <param name="builder">The options' builder.</param>
    /// <param name="section">The section.</param>
    /// <returns>The builder.</returns>
    public static OptionsBuilder<TOptions> BindChecked<TOptions>(this OptionsBuilder<TOptions> builder, IConfigurationSection section)
        where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(section);
        var name = builder.Name;
        var services = builder.Services;
        if (services.Any(d => d.ImplementationInstance is BoundSection b && b.OptionsType == typeof(TOptions) && b.Name == name && b.Path.Equals(section.Path, StringComparison.OrdinalIgnoreCase)))
        {
            // The same section bound twice (AddAgentHarness called again) would report each problem twice.
            return builder;
        }

        // Announced, so that a section that holds this one (AgentHarness holds AgentHarness:Sqlite)
        // does not report its key as unknown; this section's own check covers it.
        services.AddSingleton(new BoundSection(typeof(TOptions), name, section.Path));
        services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(new ConfigurationChangeTokenSource<TOptions>(name, section));
        builder.Configure<IEnumerable<BoundSection>>((options, bound) =>
        {
            try
            {
                section.Bind(options);
            }
            catch (InvalidOperationException) when (Check(section, typeof(TOptions), bound).Count > 0)
            {
                // The binder throws for the first bad top-level value; the validator reports it, with every other problem.
            }
        });
        services.AddSingleton<IValidateOptions<TOptions>>(sp => new Validator<TOptions>(name, section, sp.GetServices<BoundSection>()));
        return builder;
    }

    private static IReadOnlyList<string> Check(IConfigurationSection section, Type type, IEnumerable<BoundSection> bound) =>
        ConfigurationChecker.Check(
            section,
            type,
            bound.Select(static b => b.Path).Where(path => !path.Equals(section.Path, StringComparison.OrdinalIgnoreCase)));

    /// <summary>A section some options type is bound to.</summary>
    /// <param name="optionsType">The options type.</param>
    /// <param name="name">The options' name.</param>
    /// <param name="path">The section's path.</param>
    internal sealed class BoundSection(Type optionsType, string name, string path)
    {
        public Type OptionsType { get; } = optionsType;

        public string Name { get; } = name;

        public string Path { get; } = path;
    }

    private sealed class Validator<TOptions>(string name, IConfigurationSection section, IEnumerable<BoundSection> bound) : IValidateOptions<TOptions>
        where TOptions : class
    {
        public ValidateOptionsResult Validate(string? optionsName, TOptions options)
        {
            if (!string.Equals(optionsName ?? Options.DefaultName, name, StringComparison.Ordinal))
            {
                return ValidateOptionsResult.Skip;
            }

            var problems = Check(section, typeof(TOptions), bound);
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
