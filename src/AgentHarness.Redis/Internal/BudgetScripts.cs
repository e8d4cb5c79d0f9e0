namespace AgentHarness.Redis.Internal;

/// <summary>
/// The Lua scripts of the budget store. Each runs atomically on the server, so a reservation across
/// every counter of a call is one step and one round trip, whatever other replicas do meanwhile.
/// </summary>
/// <remarks>
/// <para>
/// Amounts are whole picodollars held as two integers, dollars and picodollars below a dollar: Lua
/// numbers are doubles, exact only up to 2^53, which in picodollars alone would be $9,007.
/// </para>
/// <para>
/// Keys of one counter: <c>b</c>, a hash of its figures (<c>sd</c>/<c>sp</c> spent, <c>rd</c>/<c>rp</c> reserved),
/// and <c>l</c>, a sorted set of its live reservations (member <c>id|dollars|picodollars</c>, score the lease's
/// deadline in the server's milliseconds). A reservation whose deadline has passed is dropped, and its amount
/// taken off the reserved figure, by the next script that touches the counter: leases need no clock but
/// the server's, so the replicas' clocks do not matter to them. Both keys expire some time after the window.
/// </para>
/// <para>
/// A settle leaves a tombstone (<c>s:id</c>) holding its result for the settle retry window: a retry of the
/// same settle (its answer was lost) gets the first one's result and changes nothing, and a reserve that
/// arrives after its own release (it was sent, timed out, and released) reserves nothing.
/// </para>
/// </remarks>
internal static class BudgetScripts
{
    private const string Common = """
        local P = 1000000000000
        local function num(v) if v then return tonumber(v) else return 0 end end
        local function fmt(v) return string.format('%d', v) end
        local function add(ad, ap, bd, bp)
          local d, p = ad + bd, ap + bp
          if p >= P then d = d + 1; p = p - P end
          return d, p
        end
        local function sub(ad, ap, bd, bp)
          local d, p = ad - bd, ap - bp
          if p < 0 then d = d - 1; p = p + P end
          if d < 0 then return 0, 0 end
          return d, p
        end
        local function gt(ad, ap, bd, bp) return ad > bd or (ad == bd and ap > bp) end
        local function now_ms()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        end
        local function expire_at(k, at, now)
          if at < now + 60000 then at = now + 60000 end
          local ttl = redis.call('PTTL', k)
          if ttl < 0 or now + ttl < at then redis.call('PEXPIREAT', k, at) end
        end
        local function purge(b, l, now)
          local expired = redis.call('ZRANGEBYSCORE', l, '-inf', now)
          if #expired == 0 then return end
          local f = redis.call('HMGET', b, 'rd', 'rp')
          local rd, rp = num(f[1]), num(f[2])
          for _, m in ipairs(expired) do
            local _, _, md, mp = string.find(m, '|(%d+)|(%d+)$')
            rd, rp = sub(rd, rp, tonumber(md), tonumber(mp))
          end
          redis.call('ZREMRANGEBYSCORE', l, '-inf', now)
          if redis.call('EXISTS', b) == 1 then redis.call('HSET', b, 'rd', fmt(rd), 'rp', fmt(rp)) end
        end
        """;

    /// <summary>
    /// KEYS: the tombstone, then <c>b</c> and <c>l</c> of each counter. ARGV: id, amount dollars, amount
    /// picodollars, lease milliseconds, then per counter limit dollars, limit picodollars, expiry (Unix ms).
    /// Returns <c>{1}</c> reserved, <c>{2}</c> already held (a retry), <c>{3}</c> already settled (nothing
    /// reserved), or <c>{0, index, sd, sp, rd, rp}</c> refused by the counter at that index.
    /// </summary>
    public const string Reserve = Common + """

        local n = (#KEYS - 1) / 2
        if redis.call('EXISTS', KEYS[1]) == 1 then return {3} end
        local now = now_ms()
        local ad, ap, lease = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local member = ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3]
        if n > 0 and redis.call('ZSCORE', KEYS[3], member) then return {2} end
        local reserved = {}
        for i = 1, n do
          local b, l = KEYS[2 * i], KEYS[2 * i + 1]
          purge(b, l, now)
          local f = redis.call('HMGET', b, 'sd', 'sp', 'rd', 'rp')
          local sd, sp, rd, rp = num(f[1]), num(f[2]), num(f[3]), num(f[4])
          local td, tp = add(sd, sp, rd, rp)
          td, tp = add(td, tp, ad, ap)
          local j = 5 + 3 * (i - 1)
          if gt(td, tp, tonumber(ARGV[j]), tonumber(ARGV[j + 1])) then return {0, i - 1, sd, sp, rd, rp} end
          local nd, np = add(rd, rp, ad, ap)
          reserved[i] = {nd, np}
        end
        for i = 1, n do
          local b, l = KEYS[2 * i], KEYS[2 * i + 1]
          redis.call('HSET', b, 'rd', fmt(reserved[i][1]), 'rp', fmt(reserved[i][2]))
          redis.call('ZADD', l, now + lease, member)
          local at = tonumber(ARGV[7 + 3 * (i - 1)])
          if at < now + lease then at = now + lease end
          expire_at(b, at, now)
          expire_at(l, at, now)
        end
        return {1}
        """;

    /// <summary>
    /// KEYS: the tombstone, then <c>b</c> and <c>l</c> of each counter. ARGV: id, held dollars, held
    /// picodollars, actual dollars, actual picodollars, tombstone milliseconds, then each counter's expiry
    /// (Unix ms). Returns <c>{1, result}</c> when applied now, <c>{2, result}</c> when an earlier settle of
    /// the id was; result is "charged-dollars charged-picodollars" then "sd sp rd rp" of each counter.
    /// </summary>
    public const string Settle = Common + """

        local n = (#KEYS - 1) / 2
        local done = redis.call('GET', KEYS[1])
        if done then return {2, done} end
        local now = now_ms()
        local hd, hp = tonumber(ARGV[2]), tonumber(ARGV[3])
        local ad, ap = tonumber(ARGV[4]), tonumber(ARGV[5])
        local member = ARGV[1] .. '|' .. ARGV[2] .. '|' .. ARGV[3]
        local out = {fmt(ad), fmt(ap)}
        for i = 1, n do
          local b, l = KEYS[2 * i], KEYS[2 * i + 1]
          purge(b, l, now)
          local f = redis.call('HMGET', b, 'sd', 'sp', 'rd', 'rp')
          local sd, sp, rd, rp = num(f[1]), num(f[2]), num(f[3]), num(f[4])
          local changed = false
          if redis.call('ZREM', l, member) == 1 then
            rd, rp = sub(rd, rp, hd, hp)
            changed = true
          end
          if ad > 0 or ap > 0 then
            sd, sp = add(sd, sp, ad, ap)
            changed = true
          end
          if changed then
            redis.call('HSET', b, 'sd', fmt(sd), 'sp', fmt(sp), 'rd', fmt(rd), 'rp', fmt(rp))
            expire_at(b, tonumber(ARGV[6 + i]), now)
          end
          out[#out + 1] = fmt(sd) .. ' ' .. fmt(sp) .. ' ' .. fmt(rd) .. ' ' .. fmt(rp)
        end
        local result = table.concat(out, ' ')
        redis.call('SET', KEYS[1], result, 'PX', ARGV[6])
        return {1, result}
        """;

    /// <summary>KEYS: <c>b</c> and <c>l</c> of one counter. Drops its expired leases and returns <c>{sd, sp, rd, rp}</c>.</summary>
    public const string Read = Common + """

        local now = now_ms()
        purge(KEYS[1], KEYS[2], now)
        local f = redis.call('HMGET', KEYS[1], 'sd', 'sp', 'rd', 'rp')
        return {num(f[1]), num(f[2]), num(f[3]), num(f[4])}
        """;
}
