using System.Buffers;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace AgentHarness.Sqlite.Internal;

/// <summary>Writes batches of records in one transaction each, with two commands prepared once. Used by the ledger's single writer loop only.</summary>
internal sealed class RecordWriter : IDisposable
{
    private const string InsertRecordSql = """
        INSERT INTO usage_records (
            timestamp_ms, timestamp_ticks, offset_minutes, run_id, agent, task, model_requested, model_used,
            provider, operation, streaming, input_tokens, output_tokens, cached_input_tokens, cost_usd,
            cost_pico, cost_scale, cost_basis, latency_ticks, outcome, status_code, error, attempts,
            from_cache, saved_usd, saved_pico, saved_scale, cache_key, cache_write_input_tokens)
        VALUES (
            $timestamp_ms, $timestamp_ticks, $offset_minutes, $run_id, $agent, $task, $model_requested, $model_used,
            $provider, $operation, $streaming, $input_tokens, $output_tokens, $cached_input_tokens, $cost_usd,
            $cost_pico, $cost_scale, $cost_basis, $latency_ticks, $outcome, $status_code, $error, $attempts,
            $from_cache, $saved_usd, $saved_pico, $saved_scale, $cache_key, $cache_write_input_tokens)
        RETURNING id;
        """;

    private const string InsertMetadataSql = "INSERT INTO usage_metadata (record_id, key, name, value) VALUES ($record_id, $key, $name, $value);";

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _insertRecord;
    private readonly SqliteCommand _insertMetadata;
    private readonly SqliteParameter[] _record;
    private readonly SqliteParameter _recordId;
    private readonly SqliteParameter _key;
    private readonly SqliteParameter _name;
    private readonly SqliteParameter _value;
    private readonly ArrayBufferWriter<byte> _jsonBuffer = new(256);
    private readonly Utf8JsonWriter _json;
    private readonly Dictionary<string, int> _metadataIndex = new(StringComparer.Ordinal);
    private readonly List<MetadataEntry> _metadata = [];

    public RecordWriter(SqliteConnection connection)
    {
        _connection = connection;
        _json = new Utf8JsonWriter(_jsonBuffer);

        _insertRecord = connection.CreateCommand();
        _insertRecord.CommandText = InsertRecordSql;
        string[] names =
        [
            "$timestamp_ms", "$timestamp_ticks", "$offset_minutes", "$run_id", "$agent", "$task", "$model_requested", "$model_used",
            "$provider", "$operation", "$streaming", "$input_tokens", "$output_tokens", "$cached_input_tokens", "$cost_usd",
            "$cost_pico", "$cost_scale", "$cost_basis", "$latency_ticks", "$outcome", "$status_code", "$error", "$attempts",
            "$from_cache", "$saved_usd", "$saved_pico", "$saved_scale", "$cache_key", "$cache_write_input_tokens",
        ];
        _record = new SqliteParameter[names.Length];
        for (var i = 0; i < names.Length; i++)
        {
            _record[i] = _insertRecord.Parameters.Add(new SqliteParameter(names[i], DBNull.Value));
        }

        _insertMetadata = connection.CreateCommand();
        _insertMetadata.CommandText = InsertMetadataSql;
        _recordId = _insertMetadata.Parameters.Add("$record_id", SqliteType.Integer);
        _key = _insertMetadata.Parameters.Add("$key", SqliteType.Text);
        _name = _insertMetadata.Parameters.Add("$name", SqliteType.Text);
        _value = _insertMetadata.Parameters.Add("$value", SqliteType.Text);
    }

    /// <summary>Writes the records (each cost and saving already checked with <see cref="RecordCodec.TryGetPicodollars"/>) in one transaction; throws and writes nothing when any fails.</summary>
    public void Write(IReadOnlyList<(UsageRecord Record, long Picodollars, int Scale)> batch)
    {
        using var transaction = _connection.BeginTransaction(deferred: false);
        _insertRecord.Transaction = transaction;
        _insertMetadata.Transaction = transaction;
        foreach (var (record, picodollars, scale) in batch)
        {
            Bind(record, picodollars, scale);
            var id = (long)_insertRecord.ExecuteScalar()!;
            if (record.Metadata is not { } metadata)
            {
                continue;
            }

            foreach (var entry in Resolve(metadata))
            {
                _recordId.Value = id;
                _key.Value = entry.Key;
                _name.Value = entry.Name;
                _value.Value = (object?)entry.Value ?? DBNull.Value;
                _insertMetadata.ExecuteNonQuery();
            }
        }

        transaction.Commit();
    }

    /// <summary>
    /// Returns one entry per lower-case key, holding the value a report of the in-memory ledger finds
    /// for that key (<see cref="AgentHarness.Usage.Internal.UsageReportBuilder.MetadataValue"/>): the key's exact
    /// match under the dictionary's own comparer, else the first key equal to it in any case, in
    /// enumeration order. A record built outside the harness may hold keys that differ only in case.
    /// </summary>
    private List<MetadataEntry> Resolve(IReadOnlyDictionary<string, string> metadata)
    {
        _metadata.Clear();
        _metadataIndex.Clear();
        foreach (var (name, value) in metadata)
        {
            if (name is null)
            {
                continue;
            }

            var key = name.ToLowerInvariant();
            var exact = string.Equals(name, key, StringComparison.Ordinal);
            if (_metadataIndex.TryGetValue(key, out var index))
            {
                if (exact)
                {
                    _metadata[index] = _metadata[index] with { HasLowerCaseSpelling = true };
                }

                continue;
            }

            _metadataIndex[key] = _metadata.Count;
            _metadata.Add(new MetadataEntry(key, name, value, exact));
        }

        for (var i = 0; i < _metadata.Count; i++)
        {
            var entry = _metadata[i];
            if (metadata.TryGetValue(entry.Key, out var value))
            {
                // The exact match wins; its spelling is the lower-case key itself when the record holds one.
                _metadata[i] = entry with { Name = entry.HasLowerCaseSpelling ? entry.Key : entry.Name, Value = value };
            }
        }

        return _metadata;
    }

    public void Dispose()
    {
        _insertRecord.Dispose();
        _insertMetadata.Dispose();
        _json.Dispose();
    }

    private void Bind(UsageRecord record, long picodollars, int scale)
    {
        var (milliseconds, ticks) = RecordCodec.SplitTimestamp(record.Timestamp);
        var p = _record;
        p[0].Value = milliseconds;
        p[1].Value = ticks;
        p[2].Value = (long)record.Timestamp.Offset.TotalMinutes;
        p[3].Value = Nullable(record.RunId);
        p[4].Value = Nullable(record.Agent);
        p[5].Value = Nullable(record.Task);
        p[6].Value = Nullable(record.ModelRequested);
        p[7].Value = Nullable(record.ModelUsed);
        p[8].Value = Nullable(record.Provider);
        p[9].Value = Nullable(record.Operation);
        p[10].Value = record.Streaming ? 1L : 0L;
        p[11].Value = (long)record.InputTokens;
        p[12].Value = (long)record.OutputTokens;
        p[13].Value = (long)record.CachedInputTokens;
        p[14].Value = RecordCodec.FormatCost(record.CostUsd);
        p[15].Value = picodollars;
        p[16].Value = (long)scale;
        p[17].Value = RecordCodec.FormatEnum(record.CostBasis);
        p[18].Value = record.Latency.Ticks;
        p[19].Value = RecordCodec.FormatEnum(record.Outcome);
        p[20].Value = record.StatusCode is { } status ? (long)status : DBNull.Value;
        p[21].Value = Nullable(record.Error);
        p[22].Value = RecordCodec.WriteAttempts(record.Attempts, _jsonBuffer, _json);
        // The writer loop counts a saving that does not fit as failed before it gets here, so this succeeds.
        _ = RecordCodec.TryGetPicodollars(record.SavedUsd, out var savedPicodollars, out var savedScale);
        p[23].Value = record.FromCache ? 1L : 0L;
        p[24].Value = RecordCodec.FormatCost(record.SavedUsd);
        p[25].Value = savedPicodollars;
        p[26].Value = (long)savedScale;
        p[27].Value = Nullable(record.CacheKey);
        p[28].Value = (long)record.CacheWriteInputTokens;
    }

    private static object Nullable(string? value) => (object?)value ?? DBNull.Value;

    /// <summary>The value kept for one lower-case key, the spelling of the key it came from, and whether the record spells the key in lower case.</summary>
    private readonly record struct MetadataEntry(string Key, string Name, string? Value, bool HasLowerCaseSpelling);
}
