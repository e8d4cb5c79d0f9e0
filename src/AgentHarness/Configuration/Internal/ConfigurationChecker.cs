using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using AgentHarness.Internal;
using Microsoft.Extensions.Configuration;

namespace AgentHarness.Configuration.Internal;

/// <summary>
/// Walks a configuration section against the options type it is bound to and reports every key the
/// binder would not bind: a value that does not convert, and a key that names no setting.
/// </summary>
/// <remarks>
/// The configuration binder throws for a bad top-level value, but inside a dictionary or a list it
/// drops the whole entry without a word: a budget with <c>Window = Daily</c> becomes no budget, a
/// provider with <c>MaxRetries = two</c> no provider. This walk mirrors the binder (public properties
/// matched without regard to case, dictionaries, lists and arrays, nullable types, values converted
/// with the type's <see cref="TypeConverter"/> in the invariant culture, as the binder converts them)
/// so that a configuration it reports nothing for binds completely. Messages name the full path and
/// the value, a URL without its query or user information, and never an <c>ApiKey</c>'s value.
/// </remarks>
internal sealed class ConfigurationChecker
{
    private const int MaxShownLength = 100;

    private static readonly string[] KeySettings = ["ApiKey"];

    private readonly HashSet<string> skippedPaths;
    private readonly List<string> secrets = [];
    private readonly List<string> problems = [];

    private ConfigurationChecker(IEnumerable<string> skippedPaths)
    {
        this.skippedPaths = new HashSet<string>(skippedPaths, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>Checks <paramref name="section"/> as a whole <paramref name="optionsType"/>.</summary>
    /// <param name="section">The bound section.</param>
    /// <param name="optionsType">The type it is bound to.</param>
    /// <param name="skippedPaths">Sections inside <paramref name="section"/> that another options type binds, and its own check covers.</param>
    /// <returns>One message per problem, in configuration order; empty when everything binds.</returns>
    public static IReadOnlyList<string> Check(IConfigurationSection section, Type optionsType, IEnumerable<string> skippedPaths)
    {
        ArgumentNullException.ThrowIfNull(section);
        var checker = new ConfigurationChecker(skippedPaths);
        checker.CollectSecrets(section);
        checker.CheckObject(section, optionsType);
        return checker.problems.Count == 0 ? [] : [.. checker.problems.Select(checker.WithoutSecrets)];
    }

    private void CheckValue(IConfigurationSection section, Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type);
        if (underlying is not null)
        {
            // The binder reads an empty value as null for a nullable type.
            if (string.IsNullOrEmpty(section.Value) && !HasChildren(section))
            {
                return;
            }

            type = underlying;
        }

        if (IsScalar(type))
        {
            CheckScalar(section, type);
        }
        else if (FindDictionaryTypes(type) is { } dictionary)
        {
            CheckNotAValue(section, "named entries");
            foreach (var entry in section.GetChildren())
            {
                if (dictionary.Key != typeof(string) && !TryConvert(dictionary.Key, entry.Key, out _))
                {
                    problems.Add($"{entry.Path}: '{Show(entry.Key, dictionary.Key)}' cannot name an entry here; {Advice(dictionary.Key, entry.Key)}.");
                    continue;
                }

                CheckValue(entry, dictionary.Value);
            }
        }
        else if (FindElementType(type) is { } element)
        {
            CheckNotAValue(section, "a list of entries (:0, :1, ...)");
            foreach (var item in section.GetChildren())
            {
                CheckValue(item, element);
            }
        }
        else
        {
            CheckObject(section, type);
        }
    }

    private void CheckObject(IConfigurationSection section, Type type)
    {
        var settings = Settings(type);
        CheckNotAValue(section, "settings (" + string.Join(", ", settings.Keys) + ")");
        foreach (var child in section.GetChildren())
        {
            if (skippedPaths.Contains(child.Path))
            {
                continue;
            }

            if (settings.TryGetValue(child.Key, out var property))
            {
                CheckValue(child, property.PropertyType);
            }
            else
            {
                problems.Add(Suggest(child.Key, settings.Keys) is { } suggestion
                    ? $"{child.Path} is not a setting; did you mean {suggestion}?"
                    : $"{child.Path} is not a setting; the settings here are {string.Join(", ", settings.Keys)}.");
            }
        }
    }

    private void CheckScalar(IConfigurationSection section, Type type)
    {
        foreach (var child in section.GetChildren())
        {
            problems.Add($"{child.Path} is not a setting; {section.Path} takes a single value, not a section.");
        }

        if (section.Value is not { } value)
        {
            // JSON's null: the binder sets a value type to its default (a Window to Run, MaxRetries to 0), not to the documented default.
            if (type.IsValueType && !HasChildren(section))
            {
                problems.Add($"{section.Path} is null; {Advice(type, string.Empty)}, or leave it out for its default.");
            }

            return;
        }

        if (type == typeof(string) || type == typeof(object))
        {
            return;
        }

        if (!TryConvert(type, value, out var converted) || (type.IsEnum && !IsDefined(type, converted!)))
        {
            problems.Add($"{section.Path} is '{Show(value, type)}'; {Advice(type, value)}.");
        }
    }

    /// <summary>A section that holds entries or settings but is given a value is ignored by the binder.</summary>
    private void CheckNotAValue(IConfigurationSection section, string expected)
    {
        // An empty value is what JSON's {} and null become: nothing to bind, nothing lost.
        if (!string.IsNullOrEmpty(section.Value))
        {
            // The value is not shown: a key pasted one level too high would be.
            problems.Add($"{section.Path} has a value, but it takes {expected}, not a single value.");
        }
    }

    private static bool TryConvert(Type type, string value, out object? converted)
    {
        try
        {
            // As the binder converts: the type's converter, in the invariant culture.
            converted = TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
#pragma warning disable CA1031 // A converter may throw anything for text it cannot read; every such value is reported.
        catch (Exception)
#pragma warning restore CA1031
        {
            converted = null;
            return false;
        }
    }

    /// <summary>The enum converter accepts any number (<c>7</c>) and any combination of flags; the binder would bind it.</summary>
    private static bool IsDefined(Type type, object value)
    {
        if (type.GetCustomAttribute<FlagsAttribute>() is null)
        {
            return Enum.IsDefined(type, value);
        }

        var all = 0UL;
        foreach (var defined in Enum.GetValues(type))
        {
            all |= Convert.ToUInt64(defined, CultureInfo.InvariantCulture);
        }

        return (Convert.ToUInt64(value, CultureInfo.InvariantCulture) & ~all) == 0;
    }

    private static string Advice(Type type, string value)
    {
        if (type.IsEnum)
        {
            var names = Enum.GetNames(type);
            if (type.GetCustomAttribute<FlagsAttribute>() is null)
            {
                return "use " + List(names, "or");
            }

            var unknown = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .FirstOrDefault(part => !names.Contains(part, StringComparer.OrdinalIgnoreCase));
            var hint = unknown is null ? string.Empty
                : Suggest(unknown, names) is { } suggestion ? $" ('{Clip(unknown)}' is not one; did you mean {suggestion}?)"
                : $" ('{Clip(unknown)}' is not one)";
            return $"use one or more of {List(names, "and")}, separated by commas{hint}";
        }

        return Type.GetTypeCode(type) switch
        {
            TypeCode.Boolean => "use true or false",
            TypeCode.Byte or TypeCode.SByte or TypeCode.Int16 or TypeCode.UInt16 or TypeCode.Int32 or TypeCode.UInt32 or TypeCode.Int64 or TypeCode.UInt64 =>
                $"use a whole number from {Bound(type, "MinValue")} to {Bound(type, "MaxValue")}, for example 3",
            // A number a double holds but a decimal does not (1e30 dollars) is read well and out of range: the format is not the problem.
            TypeCode.Decimal when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) && double.IsFinite(number) =>
                $"use a number from {decimal.MinValue.ToString(CultureInfo.InvariantCulture)} to {decimal.MaxValue.ToString(CultureInfo.InvariantCulture)}",
            TypeCode.Decimal or TypeCode.Double or TypeCode.Single =>
                "use a number with '.' for decimals and no thousands separator, for example 1.5",
            _ when type == typeof(TimeSpan) => "use a time span as [d.]hh:mm:ss, for example 00:00:30 for 30 seconds or 1.00:00:00 for a day",
            _ when type == typeof(Uri) => "use a URL, for example https://api.openai.com/v1",
            _ => $"it cannot be read as {type.Name}",
        };
    }

    private static string Bound(Type type, string field) =>
        Convert.ToString(type.GetField(field, BindingFlags.Public | BindingFlags.Static)!.GetValue(null), CultureInfo.InvariantCulture)!;

    private static string List(string[] names, string conjunction) =>
        names.Length == 1 ? names[0] : $"{string.Join(", ", names[..^1])} {conjunction} {names[^1]}";

    /// <summary>The closest known name to a mistyped one: a slip of one or two letters, or the start of a name cut short.</summary>
    internal static string? Suggest(string key, IEnumerable<string> names)
    {
        var allowed = Math.Max(1, key.Length / 3);
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var name in names)
        {
            var distance = Distance(key, name);
            for (var length = Math.Max(1, key.Length - 1); length <= key.Length + 1 && length < name.Length; length++)
            {
                distance = Math.Min(distance, Distance(key, name[..length]));
            }

            if (distance <= allowed && distance < bestDistance)
            {
                (best, bestDistance) = (name, distance);
            }
        }

        return best;
    }

    /// <summary>The optimal string alignment distance, without regard to case: insertions, deletions, substitutions and swaps of neighbours.</summary>
    private static int Distance(string a, string b)
    {
        a = a.ToUpperInvariant();
        b = b.ToUpperInvariant();
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    /// <summary>The settings the binder binds on <paramref name="type"/>, by their configuration names, in declaration order.</summary>
    private static Dictionary<string, PropertyInfo> Settings(Type type)
    {
        var settings = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            // A read-only value the binder cannot set; a read-only collection or object it binds into.
            if (property.SetMethod is not { IsPublic: true } && IsScalar(Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType))
            {
                continue;
            }

            var name = property.GetCustomAttribute<ConfigurationKeyNameAttribute>()?.Name ?? property.Name;
            settings.TryAdd(name, property);
        }

        return settings;
    }

    private static bool IsScalar(Type type) =>
        type == typeof(string) || type == typeof(object) || TypeDescriptor.GetConverter(type).CanConvertFrom(typeof(string));

    private static KeyValuePair<Type, Type>? FindDictionaryTypes(Type type)
    {
        foreach (var candidate in type.GetInterfaces().Prepend(type))
        {
            if (candidate.IsGenericType
                && (candidate.GetGenericTypeDefinition() == typeof(IDictionary<,>) || candidate.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>)))
            {
                var arguments = candidate.GetGenericArguments();
                return new(arguments[0], arguments[1]);
            }
        }

        return null;
    }

    private static Type? FindElementType(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        foreach (var candidate in type.GetInterfaces().Prepend(type))
        {
            if (candidate.IsGenericType && candidate.GetGenericTypeDefinition() == typeof(IEnumerable<>))
            {
                return candidate.GetGenericArguments()[0];
            }
        }

        return null;
    }

    private static bool HasChildren(IConfigurationSection section) => section.GetChildren().Any();

    /// <summary>Remembers every configured key (under <c>ApiKey</c>, or a slip of it), so that no message can quote one, wherever else it was pasted.</summary>
    private void CollectSecrets(IConfigurationSection section)
    {
        foreach (var child in section.GetChildren())
        {
            if (child.Value is { } key && Suggest(child.Key, KeySettings) is not null)
            {
                secrets.Add(key);
            }

            CollectSecrets(child);
        }
    }

    private string WithoutSecrets(string message) => new AgentHarness.Internal.KeyRedactor(secrets).Redact(message);

    private static string Show(string value, Type type) => Clip(type == typeof(Uri) ? SafeText.Url(value) : value);

    private static string Clip(string value) => value.Length > MaxShownLength ? value[..MaxShownLength] + "..." : value;
}
