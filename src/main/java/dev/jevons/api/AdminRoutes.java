package dev.jevons.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.Account;
import dev.jevons.accounts.AccountStatus;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.AdminToken;
import dev.jevons.accounts.ApiKey;
import dev.jevons.accounts.IssuedKey;
import dev.jevons.accounts.NoSuchAccountException;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.RequestRecord;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.io.IOException;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/** The operator's API for accounts and keys, guarded by the admin token. */
final class AdminRoutes {
  private static final Instant MAX_INSTANT = Instant.parse("9999-12-31T23:59:59Z");

  private final Accounts accounts;
  private final AdminToken token;
  private final ObjectMapper json;
  private final long maxBodyBytes;
  private final ReadDeadlines deadlines;

  AdminRoutes(Accounts accounts, AdminToken token, ObjectMapper json, long maxBodyBytes, ReadDeadlines deadlines) {
    this.accounts = accounts;
    this.token = token;
    this.json = json;
    this.maxBodyBytes = maxBodyBytes;
    this.deadlines = deadlines;
  }

  int createAccount(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    ObjectNode body = body(req);
    String name = requiredText(body, "name");
    Account a = accounts.createAccount(name);
    return send(res, 201, account(a, List.of()));
  }

  int listAccounts(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    int limit = 100;
    String limitParam = req.query().first("limit").orElse(null);
    if (limitParam != null) {
      try {
        limit = Integer.parseInt(limitParam);
      } catch (NumberFormatException e) {
        throw GatewayException.invalid("limit", "'limit' must be an integer from 1 to " + Accounts.MAX_PAGE_SIZE + ".");
      }
      if (limit < 1 || limit > Accounts.MAX_PAGE_SIZE) {
        throw GatewayException.invalid("limit", "'limit' must be an integer from 1 to " + Accounts.MAX_PAGE_SIZE + ".");
      }
    }
    String after = req.query().first("after").orElse(null);
    List<Account> page = accounts.listAccounts(limit + 1, after);
    ObjectNode root = json.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    for (Account a : page.subList(0, Math.min(limit, page.size()))) {
      data.add(account(a, null));
    }
    root.put("has_more", page.size() > limit);
    return send(res, 200, root);
  }

  int getAccount(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    Account a = existing(req.path().pathParameters().get("id"));
    return send(res, 200, account(a, accounts.keysOf(a.id())));
  }

  int updateAccount(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    String id = req.path().pathParameters().get("id");
    ObjectNode body = body(req);
    String status = optionalText(body, "status");
    Integer band = optionalInt(body, "band", 0, Account.MAX_BAND, "the priority band: 0 is served first, 1 is the default, " + Account.MAX_BAND + " last");
    Integer weight = optionalInt(body, "weight", 1, Account.MAX_WEIGHT, "the weight for fair sharing within the band");
    if (status == null && band == null && weight == null) {
      throw GatewayException.invalid("status", "Give 'status' ('active' or 'suspended'), 'band' or 'weight'.");
    }
    AccountStatus s = null;
    if (status != null) {
      try {
        s = AccountStatus.valueOf(status.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw GatewayException.invalid("status", "'status' must be 'active' or 'suspended'; got '" + status + "'.");
      }
    }
    Account a = existing(id);
    if (band != null || weight != null) {
      a = accounts.setTier(id, band == null ? a.band() : band, weight == null ? a.weight() : weight);
    }
    if (s != null) {
      a = accounts.setStatus(id, s);
    }
    return send(res, 200, account(a, accounts.keysOf(a.id())));
  }

  int createKey(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    String accountId = req.path().pathParameters().get("id");
    ObjectNode body = body(req);
    String name = optionalText(body, "name");
    Set<String> models = new LinkedHashSet<>();
    JsonNode m = body.get("models");
    if (m != null && !m.isNull()) {
      if (!m.isArray()) {
        throw GatewayException.invalid("models", "'models' must be an array of model names.");
      }
      for (JsonNode n : m) {
        if (!n.isTextual() || n.asText().isBlank()) {
          throw GatewayException.invalid("models", "'models' must be an array of non-empty model names.");
        }
        models.add(n.asText());
      }
    }
    Instant expiresAt = instant(body, "expires_at");
    IssuedKey issued = accounts.issueKey(accountId, name == null ? "default" : name, models, expiresAt);
    ObjectNode out = key(issued.key());
    out.put("key", issued.secret());
    return send(res, 201, out);
  }

  int listKeys(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    Account a = existing(req.path().pathParameters().get("id"));
    ObjectNode root = json.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    for (ApiKey k : accounts.keysOf(a.id())) {
      data.add(key(k));
    }
    return send(res, 200, root);
  }

  int revokeKey(ServerRequest req, ServerResponse res, RequestRecord rec) {
    authorize(req);
    ApiKey k = accounts.revokeKey(req.path().pathParameters().get("id"));
    return send(res, 200, key(k));
  }

  private Account existing(String id) {
    return accounts.account(id).orElseThrow(() -> new NoSuchAccountException(id));
  }

  void authorize(ServerRequest req) {
    String presented = DataPlaneRoutes.bearer(req.headers().first(HeaderNames.AUTHORIZATION));
    if (!token.matches(presented)) {
      throw new GatewayException(
          ErrorKind.INVALID_API_KEY,
          presented == null
              ? "The admin API needs the admin token: 'Authorization: Bearer <token>'."
              : "The admin token is not valid.");
    }
  }

  private ObjectNode account(Account a, @Nullable List<ApiKey> keys) {
    ObjectNode n = json.createObjectNode();
    n.put("id", a.id());
    n.put("object", "account");
    n.put("name", a.name());
    n.put("status", a.status().name().toLowerCase(Locale.ROOT));
    n.put("band", a.band());
    n.put("weight", a.weight());
    n.put("created_at", a.createdAt().toString());
    if (keys != null) {
      ArrayNode arr = n.putArray("keys");
      keys.forEach(k -> arr.add(key(k)));
    }
    return n;
  }

  private ObjectNode key(ApiKey k) {
    ObjectNode n = json.createObjectNode();
    n.put("id", k.id());
    n.put("object", "api_key");
    n.put("account_id", k.accountId());
    n.put("name", k.name());
    n.put("prefix", k.prefix());
    ArrayNode models = n.putArray("models");
    k.models().forEach(models::add);
    putInstant(n, "expires_at", k.expiresAt());
    putInstant(n, "revoked_at", k.revokedAt());
    n.put("revoked", k.revokedAt() != null);
    n.put("created_at", k.createdAt().toString());
    return n;
  }

  private static void putInstant(ObjectNode n, String field, @Nullable Instant i) {
    if (i == null) {
      n.putNull(field);
    } else {
      n.put(field, i.toString());
    }
  }

  ObjectNode body(ServerRequest req) {
    byte[] raw = HttpApi.readBody(req, maxBodyBytes, deadlines);
    if (raw.length == 0) {
      return json.createObjectNode();
    }
    try {
      JsonNode node = json.readTree(raw);
      if (node == null || !node.isObject()) {
        throw GatewayException.invalid(null, "The request body must be a JSON object.");
      }
      return (ObjectNode) node;
    } catch (IOException e) {
      throw GatewayException.invalid(null, "The request body is not valid JSON.");
    }
  }

  static String requiredText(ObjectNode body, String field) {
    String v = optionalText(body, field);
    if (v == null) {
      throw GatewayException.invalid(field, "Missing required parameter: '" + field + "'.");
    }
    return v;
  }

  private static @Nullable Integer optionalInt(ObjectNode body, String field, int min, int max, String meaning) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min || v.asInt() > max) {
      throw GatewayException.invalid(field, "'" + field + "' must be an integer from " + min + " to " + max + ": " + meaning + ".");
    }
    return v.asInt();
  }

  static @Nullable String optionalText(ObjectNode body, String field) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isTextual()) {
      throw GatewayException.invalid(field, "'" + field + "' must be a string.");
    }
    return v.asText();
  }

  /**
   * An instant given as an ISO-8601 string ("2027-01-01T00:00:00Z") or as Unix seconds, between
   * the epoch and the end of year 9999: the store keeps epoch milliseconds.
   */
  private static @Nullable Instant instant(ObjectNode body, String field) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    Instant i;
    if (v.isIntegralNumber()) {
      if (!v.canConvertToLong() || v.asLong() < 0 || v.asLong() > MAX_INSTANT.getEpochSecond()) {
        throw outOfRange(field);
      }
      i = Instant.ofEpochSecond(v.asLong());
    } else if (v.isTextual()) {
      try {
        i = Instant.parse(v.asText());
      } catch (DateTimeParseException e) {
        throw GatewayException.invalid(field, "'" + field + "' must be an ISO-8601 instant such as 2027-01-01T00:00:00Z, or Unix seconds.");
      }
      if (i.isBefore(Instant.EPOCH) || i.isAfter(MAX_INSTANT)) {
        throw outOfRange(field);
      }
    } else {
      throw GatewayException.invalid(field, "'" + field + "' must be an ISO-8601 instant or Unix seconds.");
    }
    return i;
  }

  private static GatewayException outOfRange(String field) {
    return GatewayException.invalid(field, "'" + field + "' must be between " + Instant.EPOCH + " and " + MAX_INSTANT + ".");
  }

  private int send(ServerResponse res, int status, ObjectNode body) {
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body.toString());
    return status;
  }
}
