package dev.jevons.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.Principal;
import dev.jevons.gateway.Endpoint;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.Gateway;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.RequestRecord;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/** The OpenAI-compatible routes a customer calls with an API key. */
final class DataPlaneRoutes {
  private final Gateway gateway;
  private final Accounts accounts;
  private final ObjectMapper json;
  private final long maxBodyBytes;
  private final ReadDeadlines deadlines;
  private final long startedEpochSeconds = System.currentTimeMillis() / 1000;

  DataPlaneRoutes(Gateway gateway, Accounts accounts, ObjectMapper json, long maxBodyBytes, ReadDeadlines deadlines) {
    this.gateway = gateway;
    this.accounts = accounts;
    this.json = json;
    this.maxBodyBytes = maxBodyBytes;
    this.deadlines = deadlines;
  }

  int chat(ServerRequest req, ServerResponse res, RequestRecord rec) {
    return generate(Endpoint.CHAT, req, res, rec);
  }

  int completions(ServerRequest req, ServerResponse res, RequestRecord rec) {
    return generate(Endpoint.COMPLETIONS, req, res, rec);
  }

  private int generate(Endpoint endpoint, ServerRequest req, ServerResponse res, RequestRecord rec) {
    Principal principal = authenticate(req, rec);
    byte[] body = HttpApi.readBody(req, maxBodyBytes, deadlines);
    HelidonChannel channel = new HelidonChannel(res);
    gateway.handle(endpoint, principal, body, channel, rec);
    return channel.status();
  }

  int models(ServerRequest req, ServerResponse res, RequestRecord rec) {
    Principal principal = authenticate(req, rec);
    ObjectNode root = json.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    for (String model : gateway.pool().models()) {
      if (principal.key().allowsModel(model)) {
        data.add(modelJson(model));
      }
    }
    return sendJson(res, root);
  }

  int model(ServerRequest req, ServerResponse res, RequestRecord rec) {
    Principal principal = authenticate(req, rec);
    String id = req.path().pathParameters().get("id");
    if (!gateway.pool().serves(id) || !principal.key().allowsModel(id)) {
      throw new GatewayException(ErrorKind.MODEL_NOT_FOUND, "The model '" + id + "' does not exist.", "model", null);
    }
    return sendJson(res, modelJson(id));
  }

  private ObjectNode modelJson(String id) {
    ObjectNode m = json.createObjectNode();
    m.put("id", id);
    m.put("object", "model");
    m.put("created", startedEpochSeconds);
    m.put("owned_by", "jevons");
    return m;
  }

  private int sendJson(ServerResponse res, ObjectNode node) {
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(node.toString());
    return 200;
  }

  Principal authenticate(ServerRequest req, RequestRecord rec) {
    String secret = bearer(req.headers().first(HeaderNames.AUTHORIZATION));
    if (secret == null) {
      throw new GatewayException(
          ErrorKind.INVALID_API_KEY,
          "You didn't provide an API key. Send it in the Authorization header: 'Authorization: Bearer sk-...'.");
    }
    Optional<Principal> p = accounts.authenticate(secret);
    if (p.isEmpty()) {
      throw new GatewayException(
          ErrorKind.INVALID_API_KEY,
          "Incorrect API key provided: " + redact(secret) + ". The key is unknown, revoked or expired, or its account is suspended.");
    }
    rec.caller(p.get().account().id(), p.get().key().prefix());
    return p.get();
  }

  static @Nullable String bearer(Optional<String> header) {
    if (header.isEmpty()) {
      return null;
    }
    String h = header.get().trim();
    if (h.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String token = h.substring(7).trim();
      return token.isEmpty() ? null : token;
    }
    return null;
  }

  /** Enough of a presented key to recognise it in a support ticket, not enough to use it. */
  private static String redact(String secret) {
    if (secret.length() <= 8) {
      return "****";
    }
    return secret.substring(0, Math.min(6, secret.length() - 4)) + "****" + secret.substring(secret.length() - 4);
  }
}
