package dev.jevons.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.NoSuchAccountException;
import dev.jevons.accounts.Principal;
import dev.jevons.billing.Balance;
import dev.jevons.billing.CreditKind;
import dev.jevons.billing.CreditResult;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.Money;
import dev.jevons.billing.UsageLog;
import dev.jevons.billing.UsageRecord;
import java.util.List;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.RequestRecord;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Locale;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.jspecify.annotations.Nullable;

/** Balances for customers (DeepSeek's {@code /user/balance}) and credits for operators. */
final class BillingRoutes {
  private static final int MAX_IDEMPOTENCY_KEY_LENGTH = 200;

  private final Ledger ledger;
  private final Accounts accounts;
  private final DataPlaneRoutes dataPlane;
  private final AdminRoutes admin;
  private final ObjectMapper json;

  private final UsageLog usage;

  BillingRoutes(Ledger ledger, UsageLog usage, Accounts accounts, DataPlaneRoutes dataPlane, AdminRoutes admin, ObjectMapper json) {
    this.ledger = ledger;
    this.usage = usage;
    this.accounts = accounts;
    this.dataPlane = dataPlane;
    this.admin = admin;
    this.json = json;
  }

  /** The balance of {@code accountId} in the shape of {@code GET /user/balance}. */
  ObjectNode balanceOf(String accountId) {
    return balanceJson(ledger.balance(accountId));
  }

  int userBalance(ServerRequest req, ServerResponse res, RequestRecord rec) {
    Principal p = dataPlane.authenticate(req, rec);
    return send(res, 200, balanceJson(ledger.balance(p.account().id())));
  }

  /** {@code GET /admin/v1/accounts/{id}/balance}: the same view for an operator. */
  int adminBalance(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    String id = req.path().pathParameters().get("id");
    accounts.account(id).orElseThrow(() -> new NoSuchAccountException(id));
    return send(res, 200, balanceJson(ledger.balance(id)));
  }

  /**
   * {@code POST /admin/v1/accounts/{id}/credits {"amount","kind","expires_at"?,"idempotency_key"}}:
   * credits the account once per idempotency key; a replay answers the first credit again.
   */
  int credit(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    String id = req.path().pathParameters().get("id");
    accounts.account(id).orElseThrow(() -> new NoSuchAccountException(id));
    ObjectNode body = admin.body(req);
    String amountText = text(body, "amount", true);
    Money amount;
    try {
      amount = Money.parse(amountText);
    } catch (IllegalArgumentException e) {
      throw GatewayException.invalid("amount", "'amount' must be a decimal string such as \"10.00\" with at most 9 decimals; got '" + amountText + "'.");
    }
    if (amount.nanos() <= 0) {
      throw GatewayException.invalid("amount", "'amount' must be positive.");
    }
    String kindText = text(body, "kind", false);
    CreditKind kind;
    if (kindText == null || kindText.equals("topped_up")) {
      kind = CreditKind.TOPPED_UP;
    } else if (kindText.equals("granted")) {
      kind = CreditKind.GRANTED;
    } else {
      throw GatewayException.invalid("kind", "'kind' must be 'topped_up' or 'granted'; got '" + kindText + "'.");
    }
    String expires = text(body, "expires_at", false);
    Instant expiresAt = null;
    if (expires != null) {
      try {
        expiresAt = Instant.parse(expires);
      } catch (DateTimeParseException e) {
        throw GatewayException.invalid("expires_at", "'expires_at' must be an ISO-8601 instant such as 2027-01-01T00:00:00Z.");
      }
    }
    if (kind == CreditKind.GRANTED && expiresAt == null) {
      throw GatewayException.invalid("expires_at", "A granted credit needs 'expires_at'; topped-up credit never expires.");
    }
    if (kind == CreditKind.TOPPED_UP && expiresAt != null) {
      throw GatewayException.invalid("expires_at", "Topped-up credit never expires; 'expires_at' is only for kind 'granted'.");
    }
    String key = text(body, "idempotency_key", true);
    if (key.length() > MAX_IDEMPOTENCY_KEY_LENGTH || key.chars().anyMatch(Character::isISOControl)) {
      throw GatewayException.invalid("idempotency_key", "'idempotency_key' must be at most 200 printable characters.");
    }
    CreditResult r;
    try {
      // Credits from operators live in their own id space, so they can never collide with
      // request or payment ids on the ledger.
      r = ledger.credit("admin:" + key, id, kind, amount.nanos(), expiresAt).get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new GatewayException(ErrorKind.SERVER_OVERLOADED, "Interrupted while crediting.", null, Duration.ofSeconds(5));
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IllegalArgumentException iae) {
        throw GatewayException.invalid(null, String.valueOf(iae.getMessage()));
      }
      throw new GatewayException(ErrorKind.SERVER_OVERLOADED, "The ledger is unavailable; nothing was credited. Retry with the same idempotency_key.", null, Duration.ofSeconds(5));
    } catch (TimeoutException e) {
      throw new GatewayException(ErrorKind.SERVER_OVERLOADED, "The ledger did not answer; retry with the same idempotency_key (it is credited at most once).", null, Duration.ofSeconds(5));
    }
    if (!r.accountId().equals(id)) {
      throw GatewayException.invalid("idempotency_key", "This idempotency_key was already used for another account.");
    }
    ObjectNode out = json.createObjectNode();
    out.put("id", r.entryId());
    out.put("object", "credit");
    out.put("account_id", r.accountId());
    out.put("kind", r.kind().name().toLowerCase(Locale.ROOT));
    out.put("amount", Money.ofNanos(r.amountNanos()).toString());
    out.put("currency", Money.CURRENCY);
    if (r.expiresAt() == null) {
      out.putNull("expires_at");
    } else {
      out.put("expires_at", r.expiresAt().toString());
    }
    out.set("balance", balanceJson(ledger.balance(id)));
    return send(res, 201, out);
  }

  private static final int MAX_USAGE_ROWS = 10_000;

  /** {@code GET /v1/usage?from=&to=}: the caller's account's records, JSON or CSV. */
  int customerUsage(ServerRequest req, ServerResponse res, RequestRecord rec) {
    Principal p = dataPlane.authenticate(req, rec);
    return usage(p.account().id(), req, res);
  }

  /** {@code GET /admin/v1/accounts/{id}/usage?from=&to=}: the same for any account. */
  int adminUsage(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    String id = req.path().pathParameters().get("id");
    accounts.account(id).orElseThrow(() -> new NoSuchAccountException(id));
    return usage(id, req, res);
  }

  private int usage(String accountId, ServerRequest req, ServerResponse res) {
    Instant to = instantParam(req, "to", Instant.now());
    Instant from = instantParam(req, "from", to.minus(Duration.ofDays(30)));
    if (!from.isBefore(to)) {
      throw GatewayException.invalid("from", "'from' must be before 'to'.");
    }
    int limit = limitParam(req);
    String afterId = req.query().first("after").orElse(null);
    UsageLog.Position after = null;
    if (afterId != null && !afterId.isBlank()) {
      after = usage.position(accountId, afterId)
          .orElseThrow(() -> GatewayException.invalid("after", "'after' must be the id of one of this account's usage records; got '" + afterId + "'."));
    }
    List<UsageRecord> rows = usage.between(accountId, from.toEpochMilli(), to.toEpochMilli(), after, limit + 1);
    boolean more = rows.size() > limit;
    List<UsageRecord> page = more ? rows.subList(0, limit) : rows;
    String accept = req.headers().first(HeaderNames.ACCEPT).orElse("");
    if (accept.contains("text/csv")) {
      StringBuilder csv = new StringBuilder(
          "id,created_at,model,key_id,price_version,prompt_cache_hit_tokens,prompt_cache_miss_tokens,completion_tokens,cost,currency,outcome,duration_ms,ttft_ms\n");
      for (UsageRecord u : page) {
        csv.append(u.id()).append(',').append(Instant.ofEpochMilli(u.createdAtMillis())).append(',').append(csvField(u.model()))
            .append(',').append(u.keyId()).append(',').append(u.priceVersionId() == null ? "" : csvField(u.priceVersionId()))
            .append(',').append(u.promptCacheHitTokens()).append(',').append(u.promptCacheMissTokens()).append(',')
            .append(u.completionTokens()).append(',').append(Money.ofNanos(u.costNanos())).append(',').append(Money.CURRENCY)
            .append(',').append(u.outcome()).append(',').append(u.durationMillis()).append(',').append(u.timeToFirstTokenMillis())
            .append('\n');
      }
      res.status(200);
      res.header(HeaderNames.CONTENT_TYPE, "text/csv; charset=utf-8");
      if (more) {
        res.header("X-Jevons-Truncated", "true");
      }
      res.send(csv.toString());
      return 200;
    }
    ObjectNode root = json.createObjectNode();
    root.put("object", "list");
    var data = root.putArray("data");
    for (UsageRecord u : page) {
      ObjectNode n = data.addObject();
      n.put("id", u.id());
      n.put("model", u.model());
      n.put("key_id", u.keyId());
      n.put("price_version", u.priceVersionId());
      n.put("prompt_cache_hit_tokens", u.promptCacheHitTokens());
      n.put("prompt_cache_miss_tokens", u.promptCacheMissTokens());
      n.put("completion_tokens", u.completionTokens());
      n.put("cost", Money.ofNanos(u.costNanos()).toString());
      n.put("currency", Money.CURRENCY);
      n.put("outcome", u.outcome());
      n.put("created_at", Instant.ofEpochMilli(u.createdAtMillis()).toString());
      n.put("duration_ms", u.durationMillis());
      n.put("ttft_ms", u.timeToFirstTokenMillis());
    }
    root.put("has_more", more);
    return send(res, 200, root);
  }

  /** {@code limit}: records per answer, 1 to 10,000 (the default). */
  private static int limitParam(ServerRequest req) {
    String v = req.query().first("limit").orElse(null);
    if (v == null || v.isBlank()) {
      return MAX_USAGE_ROWS;
    }
    try {
      int limit = Integer.parseInt(v);
      if (limit >= 1 && limit <= MAX_USAGE_ROWS) {
        return limit;
      }
    } catch (NumberFormatException e) {
      // answered below
    }
    throw GatewayException.invalid("limit", "'limit' must be a whole number from 1 to " + MAX_USAGE_ROWS + "; got '" + v + "'.");
  }

  /** Quotes a CSV field when it holds a comma, a quote or a line break. */
  private static String csvField(String s) {
    if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
      return s;
    }
    return '"' + s.replace("\"", "\"\"") + '"';
  }

  /** An instant as ISO-8601 ("2026-11-28T00:00:00Z"), a date ("2026-11-28", UTC) or Unix seconds. */
  private static Instant instantParam(ServerRequest req, String name, Instant dflt) {
    String v = req.query().first(name).orElse(null);
    if (v == null || v.isBlank()) {
      return dflt;
    }
    try {
      if (v.chars().allMatch(Character::isDigit) && v.length() <= 12) {
        return Instant.ofEpochSecond(Long.parseLong(v));
      }
      if (v.length() == 10) {
        return java.time.LocalDate.parse(v).atStartOfDay(java.time.ZoneOffset.UTC).toInstant();
      }
      return Instant.parse(v);
    } catch (RuntimeException e) {
      throw GatewayException.invalid(name, "'" + name + "' must be an ISO-8601 instant, a date (YYYY-MM-DD, UTC) or Unix seconds; got '" + v + "'.");
    }
  }

  /** DeepSeek's shape, plus {@code reserved_balance} for holds of requests in flight. */
  ObjectNode balanceJson(Balance b) {
    ObjectNode root = json.createObjectNode();
    root.put("is_available", b.availableNanos() + b.creditLimitNanos() > 0);
    ObjectNode info = root.putArray("balance_infos").addObject();
    info.put("currency", Money.CURRENCY);
    info.put("total_balance", Money.ofNanos(b.totalNanos()).toString());
    info.put("granted_balance", Money.ofNanos(b.grantedNanos()).toString());
    info.put("topped_up_balance", Money.ofNanos(b.toppedUpNanos()).toString());
    info.put("reserved_balance", Money.ofNanos(b.reservedNanos()).toString());
    info.put("credit_limit", Money.ofNanos(b.creditLimitNanos()).toString());
    return root;
  }

  private static @Nullable String text(ObjectNode body, String field, boolean required) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      if (required) {
        throw GatewayException.invalid(field, "Missing required parameter: '" + field + "'.");
      }
      return null;
    }
    if (!v.isTextual()) {
      throw GatewayException.invalid(field, "'" + field + "' must be a string.");
    }
    return v.asText();
  }

  private static int send(ServerResponse res, int status, ObjectNode body) {
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body.toString());
    return status;
  }
}
