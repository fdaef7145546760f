package dev.jevons.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.Principal;
import dev.jevons.billing.CreditResult;
import dev.jevons.billing.Money;
import dev.jevons.billing.StripeSignature;
import dev.jevons.billing.TopUps;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.RequestRecord;
import dev.jevons.governor.Gate;
import dev.jevons.governor.Governor;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Top-ups: redemption codes (operators create them, customers redeem them) and the Stripe payment
 * webhook. The webhook is never gated: a payment already made is always credited (DESIGN.md).
 */
final class TopUpRoutes {
  private static final String STRIPE = "stripe";
  private static final int MAX_EVENT_ID_LENGTH = 150;
  /** USD's minor unit is the cent: 1 cent = 10^7 nanos. */
  private static final long NANOS_PER_CENT = Money.NANOS_PER_UNIT / 100;

  private final TopUps topUps;
  private final @Nullable StripeSignature stripe;
  private final Governor governor;
  private final Accounts accounts;
  private final DataPlaneRoutes dataPlane;
  private final AdminRoutes admin;
  private final Function<String, ObjectNode> balance;
  private final ObjectMapper json;
  private final long maxBodyBytes;
  private final ReadDeadlines deadlines;

  TopUpRoutes(
      TopUps topUps,
      @Nullable StripeSignature stripe,
      Governor governor,
      Accounts accounts,
      DataPlaneRoutes dataPlane,
      AdminRoutes admin,
      Function<String, ObjectNode> balance,
      ObjectMapper json,
      long maxBodyBytes,
      ReadDeadlines deadlines) {
    this.topUps = topUps;
    this.stripe = stripe;
    this.governor = governor;
    this.accounts = accounts;
    this.dataPlane = dataPlane;
    this.admin = admin;
    this.balance = balance;
    this.json = json;
    this.maxBodyBytes = maxBodyBytes;
    this.deadlines = deadlines;
  }

  /** {@code POST /admin/v1/redemption-codes {"amount","count","expires_at"?}}. */
  int createCodes(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    ObjectNode body = admin.body(req);
    JsonNode amountNode = body.get("amount");
    if (amountNode == null || !amountNode.isTextual()) {
      throw GatewayException.invalid("amount", "'amount' is required: a decimal string such as \"10.00\".");
    }
    Money amount;
    try {
      amount = Money.parse(amountNode.asText());
    } catch (IllegalArgumentException e) {
      throw GatewayException.invalid("amount", "'amount' must be a decimal string such as \"10.00\" with at most 9 decimals; got '" + amountNode.asText() + "'.");
    }
    if (amount.nanos() <= 0) {
      throw GatewayException.invalid("amount", "'amount' must be positive.");
    }
    JsonNode countNode = body.get("count");
    if (countNode == null || !countNode.canConvertToInt() || !countNode.isIntegralNumber()
        || countNode.asInt() < 1 || countNode.asInt() > TopUps.MAX_CODES_PER_BATCH) {
      throw GatewayException.invalid("count", "'count' must be an integer from 1 to " + TopUps.MAX_CODES_PER_BATCH + ".");
    }
    Instant expiresAt = null;
    JsonNode expires = body.get("expires_at");
    if (expires != null && !expires.isNull()) {
      try {
        expiresAt = Instant.parse(expires.asText());
      } catch (DateTimeParseException e) {
        throw GatewayException.invalid("expires_at", "'expires_at' must be an ISO-8601 instant such as 2027-01-01T00:00:00Z.");
      }
    }
    List<String> codes;
    try {
      codes = topUps.createCodes(amount.nanos(), countNode.asInt(), expiresAt);
    } catch (IllegalArgumentException e) {
      throw GatewayException.invalid(null, String.valueOf(e.getMessage()));
    }
    ObjectNode out = json.createObjectNode();
    out.put("object", "list");
    out.put("amount", amount.toString());
    out.put("currency", Money.CURRENCY);
    if (expiresAt == null) {
      out.putNull("expires_at");
    } else {
      out.put("expires_at", expiresAt.toString());
    }
    ArrayNode data = out.putArray("data");
    codes.forEach(data::add);
    return send(res, 201, out);
  }

  /**
   * {@code POST /v1/top-ups/redeem {"code"}}: credits the caller's account once per code. Refused
   * while the top-ups gate is closed, before the code is even looked at: a refused code stays
   * unredeemed and works once the gate reopens.
   */
  int redeem(ServerRequest req, ServerResponse res, RequestRecord rec) {
    Principal p = dataPlane.authenticate(req, rec);
    governor.check(Gate.TOP_UPS);
    String accountId = p.account().id();
    ObjectNode body = admin.body(req);
    JsonNode code = body.get("code");
    if (code == null || !code.isTextual() || code.asText().isBlank()) {
      throw GatewayException.invalid("code", "Missing required parameter: 'code'.");
    }
    CreditResult r;
    try {
      r = await(topUps.redeem(code.asText(), accountId), "Retry the same code: it is credited at most once.");
    } catch (TopUps.RefusedException e) {
      throw GatewayException.invalid("code", String.valueOf(e.getMessage()));
    } catch (CompletionException e) {
      throw ledgerDown("Retry the same code: it is credited at most once.");
    }
    ObjectNode out = json.createObjectNode();
    out.put("object", "top_up");
    out.put("amount", Money.ofNanos(r.amountNanos()).toString());
    out.put("currency", Money.CURRENCY);
    out.set("balance", balance.apply(accountId));
    return send(res, 200, out);
  }

  /** {@code POST /webhooks/stripe}: Stripe events, signed; a paid checkout credits its account once. */
  int stripeWebhook(ServerRequest req, ServerResponse res, RequestRecord rec) {
    if (stripe == null) {
      throw new GatewayException(ErrorKind.NOT_FOUND, "The Stripe webhook is not configured: set stripe.webhook_secret (or JEVONS_STRIPE_WEBHOOK_SECRET).");
    }
    byte[] raw = HttpApi.readBody(req, maxBodyBytes, deadlines);
    try {
      stripe.verify(req.headers().first(HeaderNames.create("Stripe-Signature")).orElse(null), raw);
    } catch (StripeSignature.InvalidSignatureException e) {
      throw GatewayException.invalid(null, String.valueOf(e.getMessage()));
    }
    JsonNode event;
    try {
      event = json.readTree(raw);
    } catch (JsonProcessingException e) {
      throw GatewayException.invalid(null, "The event body is not valid JSON.");
    } catch (java.io.IOException e) {
      throw GatewayException.invalid(null, "The event body could not be read.");
    }
    if (event == null || !event.isObject()) {
      throw GatewayException.invalid(null, "The event body must be a JSON object.");
    }
    String eventId = textAt(event, "id");
    String type = textAt(event, "type");
    if (eventId == null || eventId.isBlank() || eventId.length() > MAX_EVENT_ID_LENGTH) {
      throw GatewayException.invalid("id", "The event has no 'id' (a string of at most " + MAX_EVENT_ID_LENGTH + " characters).");
    }
    if (type == null) {
      throw GatewayException.invalid("type", "The event has no 'type'.");
    }
    if (topUps.paymentSeen(eventId)) {
      return acknowledge(res, eventId, "duplicate");
    }
    JsonNode object = event.path("data").path("object");
    if (!type.equals("checkout.session.completed")) {
      topUps.recordIgnored(STRIPE, eventId, type);
      return acknowledge(res, eventId, "ignored");
    }
    if (!object.isObject()) {
      throw GatewayException.invalid("data.object", "The checkout.session.completed event has no 'data.object'.");
    }
    if (!"paid".equals(textAt(object, "payment_status"))) {
      // An unpaid session (e.g. a delayed payment method) is not money yet; its later
      // async_payment_succeeded event is a separate integration, not credited here.
      topUps.recordIgnored(STRIPE, eventId, type);
      return acknowledge(res, eventId, "ignored");
    }
    String currency = textAt(object, "currency");
    if (currency == null || !currency.equalsIgnoreCase("usd")) {
      throw GatewayException.invalid("data.object.currency", "Only usd payments can be credited; the session's currency is '" + currency + "'.");
    }
    JsonNode amountNode = object.get("amount_total");
    if (amountNode == null || !amountNode.isIntegralNumber() || !amountNode.canConvertToLong() || amountNode.asLong() < 0) {
      throw GatewayException.invalid("data.object.amount_total", "'data.object.amount_total' must be a non-negative integer (cents).");
    }
    long cents = amountNode.asLong();
    String accountId = textAt(object.path("metadata"), "jevons_account_id");
    if (accountId == null || accountId.isBlank()) {
      throw GatewayException.invalid("data.object.metadata.jevons_account_id", "The session has no 'metadata.jevons_account_id' naming the account to credit.");
    }
    if (accounts.account(accountId).isEmpty()) {
      throw GatewayException.invalid("data.object.metadata.jevons_account_id", "The account '" + truncate(accountId) + "' named in metadata.jevons_account_id does not exist.");
    }
    if (cents == 0) {
      topUps.recordIgnored(STRIPE, eventId, type);
      return acknowledge(res, eventId, "ignored");
    }
    long nanos;
    try {
      nanos = Math.multiplyExact(cents, NANOS_PER_CENT);
    } catch (ArithmeticException e) {
      throw GatewayException.invalid("data.object.amount_total", "'data.object.amount_total' is too large: " + cents + ".");
    }
    try {
      topUps.creditPayment(STRIPE, eventId, type, accountId, nanos);
    } catch (CompletionException e) {
      // Stripe retries a failed delivery; the retry is credited once.
      throw ledgerDown("Nothing was credited twice; redeliver the event.");
    }
    return acknowledge(res, eventId, "credited");
  }

  private int acknowledge(ServerResponse res, String eventId, String outcome) {
    ObjectNode out = json.createObjectNode();
    out.put("received", true);
    out.put("id", eventId);
    out.put("outcome", outcome);
    return send(res, 200, out);
  }

  private static <T> T await(CompletableFuture<T> future, String retryHint) {
    try {
      return future.get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw ledgerDown(retryHint);
    } catch (ExecutionException | TimeoutException e) {
      throw ledgerDown(retryHint);
    }
  }

  private static GatewayException ledgerDown(String retryHint) {
    return new GatewayException(ErrorKind.SERVER_OVERLOADED, "The ledger is unavailable. " + retryHint, null, Duration.ofSeconds(5));
  }

  private static @Nullable String textAt(JsonNode node, String field) {
    JsonNode v = node.get(field);
    return v != null && v.isTextual() ? v.asText() : null;
  }

  private static String truncate(String s) {
    return s.length() <= 100 ? s : s.substring(0, 100) + "...";
  }

  private static int send(ServerResponse res, int status, ObjectNode body) {
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body.toString());
    return status;
  }
}
