using System.Globalization;
using System.Text;
using AgentHarness.Usage.Internal;
using Microsoft.Data.Sqlite;

namespace AgentHarness.Sqlite.Internal;

/// <summary>The ledger's reads: every record back, and usage reports summed in SQL.</summary>
internal static class LedgerQueries
{
    private const string SelectRecordsSql = """
        SELECT id, timestamp_ms, timestamp_ticks, offset_minutes, run_id, agent, task, model_requested, model_used,
               provider, operation, streaming, input_tokens, output_tokens, cached_input_tokens, cost_usd,
               cost_basis, latency_ticks, outcome, status_code, error, attempts,
               from_cache, saved_usd, cache_key, cache_write_input_tokens
        FROM usage_records ORDER BY id;
        """;

    private const string SelectMetadataSql = "SELECT record_id, name, value FROM usage_metadata ORDER BY record_id;";

    /// <summary>Reads every record, in the order they were added, from one consistent snapshot.</summary>
    public static List<UsageRecord> ReadAll(SqliteConnection connection)
    {
        using var transaction = connection.BeginTransaction(deferred: true);
        var metadata = new Dictionary<long, Dictionary<string, string>>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = SelectMetadataSql;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var id = reader.GetInt64(0);
                if (!metadata.TryGetValue(id, out var values))
                {
                    metadata[id] = values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
                }

                values.TryAdd(reader.GetString(1), reader.IsDBNull(2) ? null! : reader.GetString(2));
            }
        }

        var records = new List<UsageRecord>();
        using (var command = connection.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = SelectRecordsSql;
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                records.Add(new UsageRecord
                {
                    Timestamp = RecordCodec.JoinTimestamp(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)),
                    RunId = String(reader, 4),
                    Agent = String(reader, 5),
                    Task = String(reader, 6),
                    Metadata = metadata.TryGetValue(reader.GetInt64(0), out var values)
                        ? values
                        : new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase),
                    ModelRequested = String(reader, 7)!,
                    ModelUsed = String(reader, 8),
                    Provider = String(reader, 9),
                    Operation = String(reader, 10)!,
                    Streaming = reader.GetInt64(11) != 0,
                    InputTokens = reader.GetInt32(12),
                    OutputTokens = reader.GetInt32(13),
                    CachedInputTokens = reader.GetInt32(14),
                    CostUsd = RecordCodec.ParseCost(reader.GetString(15)),
                    CostBasis = RecordCodec.ParseEnum<CostBasis>(reader.GetString(16)),
                    Latency = TimeSpan.FromTicks(reader.GetInt64(17)),
                    Outcome = RecordCodec.ParseEnum<UsageOutcome>(reader.GetString(18)),
                    StatusCode = reader.IsDBNull(19) ? null : reader.GetInt32(19),
                    Error = String(reader, 20),
                    Attempts = RecordCodec.ReadAttempts(reader.GetString(21)),
                    FromCache = reader.GetInt64(22) != 0,
                    SavedUsd = RecordCodec.ParseCost(reader.GetString(23)),
                    CacheKey = String(reader, 24),
                    CacheWriteInputTokens = reader.GetInt32(25),
                });
            }
        }

        transaction.Commit();
        return records;
    }

    /// <summary>
    /// Sums the query's range in SQL, one row per period, group values and operation, and feeds the
    /// rows to <paramref name="builder"/>: periods by the UTC calendar, one metadata join per
    /// metadata group key, calls refused before sending left out, spend summed in picodollars.
    /// Synchronous (Microsoft.Data.Sqlite's async methods are too): run it off the caller's thread,
    /// and interrupt the connection to stop the statement; the token is also checked between rows.
    /// </summary>
    public static void AddUsage(SqliteConnection connection, UsageReportBuilder builder, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var query = builder.Query;
        var keys = query.GroupBy;
        using var command = connection.CreateCommand();
        command.CommandText = BuildSql(query.Resolution, keys, command);

        var (startMilliseconds, startTicks) = RecordCodec.SplitTimestamp(query.Start);
        var (endMilliseconds, endTicks) = RecordCodec.SplitTimestamp(builder.EndExclusive);

        // The range ends at a whole second, so the exclusive end compares in milliseconds alone.
        System.Diagnostics.Debug.Assert(endTicks == 0, "The end of a usage query's range is a whole second.");
        command.Parameters.AddWithValue("$start_ms", startMilliseconds);
        command.Parameters.AddWithValue("$start_ticks", startTicks);
        command.Parameters.AddWithValue("$end_ms", endMilliseconds);
        command.Parameters.AddWithValue("$rejected", RecordCodec.FormatEnum(UsageOutcome.Rejected));

        var values = new string?[keys.Count];
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var period = DateTimeOffset.FromUnixTimeMilliseconds(reader.GetInt64(0));
            var operation = reader.IsDBNull(1) ? null : reader.GetString(1);
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = reader.IsDBNull(2 + i) ? null : reader.GetString(2 + i);
            }

            var column = 2 + values.Length;
            var requests = reader.GetInt64(column);
            var input = reader.GetInt64(column + 1);
            var output = reader.GetInt64(column + 2);
            var picodollars = (reader.GetInt64(column + 3) * 1_000_000m) + reader.GetInt64(column + 4);
            var scale = reader.GetInt32(column + 5);
            var cached = reader.GetInt64(column + 6);
            var hits = reader.GetInt64(column + 7);
            var savedPicodollars = (reader.GetInt64(column + 8) * 1_000_000m) + reader.GetInt64(column + 9);
            var savedScale = reader.GetInt32(column + 10);
            var cacheWrite = reader.GetInt64(column + 11);
            builder.Add(period, values, new UsageTotals
            {
                Requests = requests,
                CompletionsRequests = UsageReportBuilder.IsCompletion(operation) ? requests : 0,
                InputTokens = input,
                OutputTokens = output,
                TotalTokens = input + output,
                SpendUsd = RecordCodec.FromPicodollars(picodollars, scale),
                CachedInputTokens = cached,
                CacheHits = hits,
                SavedUsd = RecordCodec.FromPicodollars(savedPicodollars, savedScale),
                CacheWriteInputTokens = cacheWrite,
            });
        }
    }

    private static string BuildSql(UsageResolution resolution, IReadOnlyList<string> keys, SqliteCommand command)
    {
        // The period's start, in Unix milliseconds, by the UTC calendar.
        var period = resolution switch
        {
            UsageResolution.Hour => "r.timestamp_ms - (((r.timestamp_ms % 3600000) + 3600000) % 3600000)",
            UsageResolution.Day => "r.timestamp_ms - (((r.timestamp_ms % 86400000) + 86400000) % 86400000)",
            _ => "CAST(strftime('%s', (r.timestamp_ms - (((r.timestamp_ms % 1000) + 1000) % 1000)) / 1000, 'unixepoch', 'start of month') AS INTEGER) * 1000",
        };

        var select = new StringBuilder("SELECT ").Append(period).Append(" AS period, r.operation");
        var joins = new StringBuilder();
        var groupBy = new StringBuilder(" GROUP BY period, r.operation");
        for (var i = 0; i < keys.Count; i++)
        {
            var column = "v" + i.ToString(CultureInfo.InvariantCulture);
            var expression = keys[i] switch
            {
                UsageGroupKeys.ModelRequested => "r.model_requested",
                UsageGroupKeys.ModelUsed => "r.model_used",
                UsageGroupKeys.Provider => "r.provider",
                _ => Join(keys[i], i, joins, command),
            };
            select.Append(", ").Append(expression).Append(" AS ").Append(column);
            groupBy.Append(", ").Append(column);
        }

        // Costs are split so their sums cannot overflow: micro-dollars, and the picodollars under one.
        select.Append("""
            , COUNT(*), SUM(r.input_tokens), SUM(r.output_tokens),
              SUM(r.cost_pico / 1000000), SUM(r.cost_pico % 1000000), MAX(r.cost_scale), SUM(r.cached_input_tokens),
              SUM(r.from_cache), SUM(r.saved_pico / 1000000), SUM(r.saved_pico % 1000000), MAX(r.saved_scale),
              SUM(r.cache_write_input_tokens)
            FROM usage_records r
            """);
        return select.Append(joins)
            .Append("""

                WHERE r.timestamp_ms >= $start_ms AND r.timestamp_ms < $end_ms
                  AND (r.timestamp_ms > $start_ms OR r.timestamp_ticks >= $start_ticks)
                  AND r.outcome <> $rejected
                """)
            .Append(groupBy)
            .Append(';')
            .ToString();
    }

    /// <summary>Adds the join of one metadata key (<c>user_id</c> is the <c>user</c> key) and returns its value column.</summary>
    private static string Join(string key, int index, StringBuilder joins, SqliteCommand command)
    {
        var name = key == UsageGroupKeys.UserId ? "user" : key[UsageGroupKeys.ExtraPrefix.Length..];
        var alias = "m" + index.ToString(CultureInfo.InvariantCulture);
        var parameter = "$k" + index.ToString(CultureInfo.InvariantCulture);
        command.Parameters.AddWithValue(parameter, name.ToLowerInvariant());
        joins.Append(CultureInfo.InvariantCulture, $"\nLEFT JOIN usage_metadata {alias} ON {alias}.record_id = r.id AND {alias}.key = {parameter}");
        return alias + ".value";
    }

    private static string? String(SqliteDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
