package dev.jevons.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.billing.DiscountWindow;
import dev.jevons.billing.InvalidPriceException;
import dev.jevons.billing.Money;
import dev.jevons.billing.PriceBook;
import dev.jevons.billing.PriceChange;
import dev.jevons.billing.PriceSchedule;
import dev.jevons.billing.PriceVersion;
import dev.jevons.billing.Prices;
import dev.jevons.billing.Quote;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.RequestRecord;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.time.Instant;
import java.time.LocalTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The operator's API for prices: {@code GET /admin/v1/prices}, {@code GET} and {@code PUT
 * /admin/v1/prices/{model}}. Prices are decimal strings of USD per 1M tokens; JSON numbers are
 * refused for them, since a JSON number is read as a binary floating point value.
 */
final class AdminPriceRoutes {
  private static final Set<String> PUT_FIELDS =
      Set.of("input_cache_hit", "input_cache_miss", "output", "effective_from", "windows");
  private static final Set<String> WINDOW_FIELDS =
      Set.of("start", "end", "discount_bp", "effective_from", "effective_until");
  private static final List<String> PRICE_FIELDS = List.of("input_cache_hit", "input_cache_miss", "output");

  private final PriceBook prices;
  private final AdminRoutes admin;
  private final ObjectMapper json;

  AdminPriceRoutes(PriceBook prices, AdminRoutes admin, ObjectMapper json) {
    this.prices = prices;
    this.admin = admin;
    this.json = json;
  }

  int list(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    Instant now = prices.now();
    ObjectNode root = json.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    for (PriceSchedule s : prices.schedules()) {
      data.add(schedule(s, now));
    }
    return send(res, 200, root);
  }

  int get(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    String model = req.path().pathParameters().get("model");
    PriceSchedule s =
        prices.schedule(model).orElseThrow(() -> new GatewayException(ErrorKind.NOT_FOUND, "No prices for model '" + model + "'."));
    return send(res, 200, schedule(s, prices.now()));
  }

  int put(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    String model = req.path().pathParameters().get("model");
    ObjectNode body = admin.body(req);
    rejectUnknown(body, PUT_FIELDS, "");
    PriceChange change = new PriceChange(prices(body), instant(body, "effective_from", "effective_from"), windows(body));
    PriceSchedule updated;
    try {
      updated = prices.update(model, change);
    } catch (InvalidPriceException e) {
      throw GatewayException.invalid(e.field(), e.getMessage());
    }
    return send(res, 200, schedule(updated, prices.now()));
  }

  ObjectNode schedule(PriceSchedule s, Instant now) {
    ObjectNode n = json.createObjectNode();
    n.put("object", "model_prices");
    n.put("model", s.model());
    n.put("currency", Money.CURRENCY);
    n.put("per_tokens", 1_000_000);
    Optional<Quote> current = s.quoteAt(now);
    if (current.isPresent()) {
      putPrices(n, current.get().prices());
      n.put("price_version", current.get().priceVersionId());
    } else {
      PRICE_FIELDS.forEach(n::putNull);
      n.putNull("price_version");
    }
    int discountBp = s.discountBpAt(now);
    n.put("discount_now", percent(discountBp));
    n.put("discount_bp_now", discountBp);
    ArrayNode schedule = n.putArray("schedule");
    for (PriceVersion v : s.versions()) {
      ObjectNode version = schedule.addObject();
      version.put("id", v.id());
      version.put("effective_from", v.effectiveFrom().toString());
      putPrices(version, v.prices());
      version.put("in_force", current.isPresent() && current.get().priceVersionId().equals(v.id()));
    }
    ArrayNode windows = n.putArray("windows");
    for (DiscountWindow w : s.windows()) {
      ObjectNode window = windows.addObject();
      window.put("start", DiscountWindow.format(w.start()));
      window.put("end", DiscountWindow.format(w.end()));
      window.put("discount_bp", w.discountBp());
      putInstant(window, "effective_from", w.effectiveFrom());
      putInstant(window, "effective_until", w.effectiveUntil());
      window.put("active_now", w.activeAt(now));
    }
    return n;
  }

  /** "50%", "12.5%", "0%". */
  static String percent(int basisPoints) {
    String whole = Integer.toString(basisPoints / 100);
    int rest = basisPoints % 100;
    if (rest == 0) {
      return whole + "%";
    }
    String fraction = String.format(Locale.ROOT, "%02d", rest);
    return whole + "." + (fraction.endsWith("0") ? fraction.substring(0, 1) : fraction) + "%";
  }

  private static void putPrices(ObjectNode n, Prices p) {
    n.put("input_cache_hit", p.inputCacheHit().toDecimalString());
    n.put("input_cache_miss", p.inputCacheMiss().toDecimalString());
    n.put("output", p.output().toDecimalString());
  }

  private static void putInstant(ObjectNode n, String field, @Nullable Instant i) {
    if (i == null) {
      n.putNull(field);
    } else {
      n.put(field, i.toString());
    }
  }

  /** The three prices, or null when none is given; giving only some of them is an error. */
  private static @Nullable Prices prices(ObjectNode body) {
    List<String> given = PRICE_FIELDS.stream().filter(f -> body.hasNonNull(f)).toList();
    if (given.isEmpty()) {
      return null;
    }
    for (String f : PRICE_FIELDS) {
      if (!given.contains(f)) {
        throw GatewayException.invalid(
            f, "Missing '" + f + "': give all of input_cache_hit, input_cache_miss and output, or none.");
      }
    }
    return new Prices(price(body, "input_cache_hit"), price(body, "input_cache_miss"), price(body, "output"));
  }

  private static Money price(ObjectNode body, String field) {
    JsonNode v = body.get(field);
    if (!v.isTextual()) {
      throw GatewayException.invalid(
          field, "'" + field + "' must be a decimal string of USD per 1M tokens, such as \"0.028\"; got " + v + ".");
    }
    Money m;
    try {
      m = Money.parse(v.asText());
    } catch (IllegalArgumentException e) {
      throw GatewayException.invalid(
          field, "'" + field + "' must be a decimal string with at most " + Money.SCALE + " decimals, such as \"0.028\"; got '"
              + v.asText() + "'.");
    }
    if (m.isNegative()) {
      throw GatewayException.invalid(field, "'" + field + "' must not be negative; got '" + v.asText() + "'.");
    }
    return m;
  }

  private static @Nullable List<DiscountWindow> windows(ObjectNode body) {
    JsonNode v = body.get("windows");
    if (v == null || v.isNull()) {
      return null;
    }
    if (!v.isArray()) {
      throw GatewayException.invalid("windows", "'windows' must be an array of {start, end, discount_bp}.");
    }
    if (v.size() > PriceBook.MAX_WINDOWS_PER_MODEL) {
      throw GatewayException.invalid(
          "windows", "At most " + PriceBook.MAX_WINDOWS_PER_MODEL + " windows per model; got " + v.size() + ".");
    }
    List<DiscountWindow> windows = new ArrayList<>();
    for (int i = 0; i < v.size(); i++) {
      String at = "windows[" + i + "]";
      if (!v.get(i).isObject()) {
        throw GatewayException.invalid(at, "'" + at + "' must be an object {start, end, discount_bp}.");
      }
      windows.add(window((ObjectNode) v.get(i), at + "."));
    }
    return windows;
  }

  /** One window {start, end, discount_bp, effective_from?, effective_until?}; {@code prefix} names it in errors ("windows[2]."). */
  static DiscountWindow window(ObjectNode w, String prefix) {
    rejectUnknown(w, WINDOW_FIELDS, prefix);
    LocalTime start = time(w, "start", prefix + "start");
    LocalTime end = time(w, "end", prefix + "end");
    JsonNode bp = w.get("discount_bp");
    if (bp == null || !bp.isIntegralNumber() || !bp.canConvertToInt()) {
      throw GatewayException.invalid(
          prefix + "discount_bp", "'" + prefix + "discount_bp' must be an integer from 1 to 10000 (basis points off: 5000 is 50% off).");
    }
    try {
      return new DiscountWindow(
          start,
          end,
          bp.intValue(),
          instant(w, "effective_from", prefix + "effective_from"),
          instant(w, "effective_until", prefix + "effective_until"));
    } catch (InvalidPriceException e) {
      throw GatewayException.invalid(prefix + e.field(), "'" + prefix + e.field() + "': " + e.getMessage());
    }
  }

  private static LocalTime time(ObjectNode w, String field, String param) {
    JsonNode v = w.get(field);
    if (v == null || !v.isTextual()) {
      throw GatewayException.invalid(param, "'" + param + "' must be a UTC time of day such as \"16:30\".");
    }
    try {
      return LocalTime.parse(v.asText());
    } catch (DateTimeParseException e) {
      throw GatewayException.invalid(param, "'" + param + "' must be a UTC time of day such as \"16:30\"; got '" + v.asText() + "'.");
    }
  }

  /** An instant given as an ISO-8601 string ("2027-01-01T00:00:00Z") or as Unix seconds. */
  private static @Nullable Instant instant(ObjectNode body, String field, String param) {
    JsonNode v = body.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (v.isIntegralNumber() && v.canConvertToLong()) {
      return Instant.ofEpochSecond(v.asLong());
    }
    if (v.isTextual()) {
      try {
        return Instant.parse(v.asText());
      } catch (DateTimeParseException e) {
        // Answered below.
      }
    }
    throw GatewayException.invalid(
        param, "'" + param + "' must be an ISO-8601 instant such as 2027-01-01T00:00:00Z, or Unix seconds; got " + v + ".");
  }

  private static void rejectUnknown(ObjectNode node, Set<String> known, String prefix) {
    for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
      String name = names.next();
      if (!known.contains(name)) {
        throw GatewayException.invalid(
            prefix + name, "Unknown field '" + prefix + name + "'; expected " + String.join(", ", known.stream().sorted().toList()) + ".");
      }
    }
  }

  private static int send(ServerResponse res, int status, ObjectNode body) {
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body.toString());
    return status;
  }
}
