package dev.jevons.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.jevons.accounts.Account;
import dev.jevons.accounts.Accounts;
import dev.jevons.accounts.IssuedKey;
import dev.jevons.billing.CreditKind;
import dev.jevons.billing.Ledger;
import dev.jevons.billing.Money;
import dev.jevons.gateway.ErrorKind;
import dev.jevons.gateway.GatewayException;
import dev.jevons.gateway.RequestRecord;
import dev.jevons.billing.DiscountWindow;
import dev.jevons.billing.InvalidPriceException;
import dev.jevons.billing.PriceBook;
import dev.jevons.billing.PriceChange;
import dev.jevons.billing.PriceSchedule;
import dev.jevons.governor.DemandHour;
import dev.jevons.governor.DemandShaper;
import dev.jevons.governor.Gate;
import dev.jevons.governor.GateStatus;
import dev.jevons.governor.Governor;
import dev.jevons.governor.GovernorEvent;
import dev.jevons.governor.GovernorPolicy;
import dev.jevons.governor.Mode;
import dev.jevons.governor.Signals;
import io.helidon.http.HeaderNames;
import io.helidon.webserver.http.ServerRequest;
import io.helidon.webserver.http.ServerResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * The governor's HTTP surface: the public status page, the operator's override and audit log, and
 * self-serve sign-up, which the sign-ups gate guards.
 */
final class GovernorRoutes {
  static final int MAX_REASON_LENGTH = 500;
  static final int MAX_EVENTS = 1000;

  /** Self-serve sign-up as configured; {@code grantNanos} 0 for no welcome grant. */
  record SignupPolicy(boolean enabled, long grantNanos, Duration grantValidity) {}

  private final Governor governor;
  private final DemandShaper.Settings shaping;
  private final int historyDays;
  private final PriceBook prices;
  private final AdminPriceRoutes adminPrices;
  private final boolean automatic;
  private final SignupPolicy signups;
  private final Accounts accounts;
  private final Ledger ledger;
  private final AdminRoutes admin;
  private final ObjectMapper json;
  private final Clock clock;

  /** Off-peak proposals: the shaper's defaults and how many days of history they look at. */
  record ShapingPolicy(DemandShaper.Settings settings, int historyDays) {}

  GovernorRoutes(
      Governor governor,
      ShapingPolicy shaping,
      boolean automatic,
      SignupPolicy signups,
      Accounts accounts,
      Ledger ledger,
      PriceBook prices,
      AdminPriceRoutes adminPrices,
      AdminRoutes admin,
      ObjectMapper json,
      Clock clock) {
    this.governor = governor;
    this.shaping = shaping.settings();
    this.historyDays = shaping.historyDays();
    this.prices = prices;
    this.adminPrices = adminPrices;
    this.automatic = automatic;
    this.signups = signups;
    this.accounts = accounts;
    this.ledger = ledger;
    this.admin = admin;
    this.json = json;
    this.clock = clock;
  }

  /** {@code GET /v1/status}: public; each gate, since when, why, and what refused customers are told. */
  int status(ServerRequest req, ServerResponse res, RequestRecord rec) {
    ObjectNode out = json.createObjectNode();
    out.put("object", "status");
    out.put("updated_at", clock.instant().toString());
    ArrayNode gates = out.putArray("gates");
    governor.status().forEach(g -> gates.add(gate(g)));
    return send(res, 200, out);
  }

  /** {@code GET /admin/v1/governor}: the gates, the signals behind them and the policy. */
  int adminStatus(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    ObjectNode out = json.createObjectNode();
    out.put("object", "governor");
    out.put("automatic", automatic);
    ArrayNode gates = out.putArray("gates");
    governor.status().forEach(g -> gates.add(gate(g)));
    Signals s = governor.lastSignals().orElse(null);
    if (s == null) {
      out.putNull("signals");
    } else {
      out.set("signals", signals(s));
    }
    out.set("policy", policy(governor.policy()));
    return send(res, 200, out);
  }

  /** {@code POST /admin/v1/governor/override {"gate","state","reason","message"?}}. */
  int override(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    ObjectNode body = admin.body(req);
    String gateId = AdminRoutes.requiredText(body, "gate");
    Gate gate = Gate.byId(gateId).orElseThrow(() -> GatewayException.invalid("gate", "'gate' must be 'top_ups' or 'signups'; got '" + truncate(gateId) + "'."));
    String state = AdminRoutes.requiredText(body, "state");
    Mode mode = Mode.byId(state).orElseThrow(() -> GatewayException.invalid("state", "'state' must be 'open', 'closed' or 'auto'; got '" + truncate(state) + "'."));
    String reason = AdminRoutes.requiredText(body, "reason");
    if (reason.isBlank() || reason.length() > MAX_REASON_LENGTH) {
      throw GatewayException.invalid("reason", "'reason' must be 1 to " + MAX_REASON_LENGTH + " characters: it goes into the audit log.");
    }
    String message = AdminRoutes.optionalText(body, "message");
    if (message != null && (message.isBlank() || message.length() > MAX_REASON_LENGTH)) {
      throw GatewayException.invalid("message", "'message' must be 1 to " + MAX_REASON_LENGTH + " characters, or absent for the configured message.");
    }
    GateStatus g = governor.override(gate, mode, reason, message, "admin");
    return send(res, 200, gate(g));
  }

  /** {@code GET /admin/v1/governor/events?gate=&limit=}: the audit log, newest first. */
  int events(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    Gate gate = null;
    String gateParam = req.query().first("gate").orElse(null);
    if (gateParam != null) {
      gate = Gate.byId(gateParam).orElseThrow(() -> GatewayException.invalid("gate", "'gate' must be 'top_ups' or 'signups'."));
    }
    int limit = 100;
    String limitParam = req.query().first("limit").orElse(null);
    if (limitParam != null) {
      try {
        limit = Integer.parseInt(limitParam);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > MAX_EVENTS) {
        throw GatewayException.invalid("limit", "'limit' must be an integer from 1 to " + MAX_EVENTS + ".");
      }
    }
    ObjectNode out = json.createObjectNode();
    out.put("object", "list");
    ArrayNode data = out.putArray("data");
    for (GovernorEvent e : governor.events(gate, limit)) {
      ObjectNode n = data.addObject();
      n.put("id", e.id());
      n.put("at", e.at().toString());
      n.put("gate", e.gate().id());
      n.put("kind", e.kind().name().toLowerCase(java.util.Locale.ROOT));
      n.put("state", e.open() ? "open" : "closed");
      n.put("mode", e.mode().id());
      n.put("reason", e.reason());
      n.put("actor", e.actor());
      if (e.signals() == null) {
        n.putNull("signals");
      } else {
        n.set("signals", signals(e.signals()));
      }
    }
    return send(res, 200, out);
  }

  /**
   * {@code GET /admin/v1/governor/proposals?days=&hours=&target_shift=&elasticity=}: an off-peak
   * discount window proposed from the hourly demand history, with the evidence behind it and the
   * body that applies it.
   */
  int proposal(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    int days = (int) queryNumber(req, "days", historyDays, 1, 365);
    DemandShaper.Settings s;
    try {
      s = new DemandShaper.Settings(
          (int) queryNumber(req, "hours", shaping.windowHours(), 1, 23),
          queryNumber(req, "target_shift", shaping.targetShift(), 0.001, 0.999),
          queryNumber(req, "elasticity", shaping.elasticity(), 0.001, 1),
          shaping.maxDiscountBp());
    } catch (IllegalArgumentException e) {
      throw GatewayException.invalid(null, String.valueOf(e.getMessage()));
    }
    Instant now = clock.instant();
    List<DemandHour> history = governor.demand(DemandShaper.historyStart(now, days), now);
    DemandShaper.Proposal p =
        new DemandShaper(s)
            .propose(history)
            .orElseThrow(() -> new GatewayException(
                ErrorKind.CONFLICT,
                "Not enough demand history to propose a window of " + s.windowHours() + " hours: the last " + days
                    + " days hold " + history.size() + " hours with traffic. Try later, or fewer 'hours'."));
    ObjectNode out = json.createObjectNode();
    out.put("object", "demand_proposal");
    out.put("start", hh(p.startHour()));
    out.put("end", hh(p.endHour()));
    out.put("discount_bp", p.discountBp());
    out.put("discount", AdminPriceRoutes.percent(p.discountBp()));
    out.put("expected_shift", p.expectedShift());
    out.put("target_shift", p.targetShift());
    out.put("elasticity", p.elasticity());
    ArrayNode models = out.putArray("models");
    prices.schedules().forEach(m -> models.add(m.model()));
    out.put("summary", String.format(
        java.util.Locale.ROOT,
        "%s-%s UTC carries %.1f%% of demand; %s off there is expected to move %.1f%% of all demand into it (elasticity %.2f: %s off moves %.0f%% of the demand outside the window)%s, lowering the peak hour's (%s) demand index from %.2f to %.2f, at about %.1f%% of revenue.",
        hh(p.startHour()), hh(p.endHour()), p.windowShare() * 100, AdminPriceRoutes.percent(p.discountBp()), p.expectedShift() * 100,
        p.elasticity(), AdminPriceRoutes.percent(p.discountBp()), p.elasticity() * p.discountBp() / 100.0,
        p.neededDiscountBp() > p.discountBp()
            ? String.format(java.util.Locale.ROOT, "; the target of %.1f%% would need %s, above the %s cap", p.targetShift() * 100,
                AdminPriceRoutes.percent(Math.min(10_000, p.neededDiscountBp())), AdminPriceRoutes.percent(shaping.maxDiscountBp()))
            : "",
        hh(p.peakHour()), p.peakDemandIndex(), p.projectedPeakDemandIndex(), -p.revenueEffect() * 100));
    ObjectNode apply = out.putObject("apply");
    apply.put("start", hh(p.startHour()));
    apply.put("end", hh(p.endHour()));
    apply.put("discount_bp", p.discountBp());
    ObjectNode evidence = out.putObject("evidence");
    evidence.put("history_days", days);
    evidence.put("history_hours", p.historyHours());
    evidence.put("window_share", p.windowShare());
    evidence.put("needed_discount_bp", p.neededDiscountBp());
    evidence.put("max_discount_bp", shaping.maxDiscountBp());
    evidence.put("peak_hour", hh(p.peakHour()));
    evidence.put("peak_demand_index", p.peakDemandIndex());
    evidence.put("projected_peak_demand_index", p.projectedPeakDemandIndex());
    evidence.put("revenue_effect", p.revenueEffect());
    ArrayNode hourly = evidence.putArray("hourly");
    for (DemandShaper.HourProfile h : p.profile()) {
      ObjectNode n = hourly.addObject();
      n.put("hour", hh(h.hourOfDay()));
      n.put("days", h.days());
      n.put("requests", h.requests());
      n.put("share", h.share());
      n.put("utilization", h.utilization());
      n.put("demand_index", h.demandIndex());
    }
    return send(res, 200, out);
  }

  /**
   * {@code POST /admin/v1/governor/proposals/apply {"start","end","discount_bp","models"?,
   * "effective_from"?,"effective_until"?}}: adds the window to each model's price schedule (all
   * priced models when {@code models} is absent), keeping the windows they already have.
   */
  int applyProposal(ServerRequest req, ServerResponse res, RequestRecord rec) {
    admin.authorize(req);
    ObjectNode body = admin.body(req);
    List<String> models = new java.util.ArrayList<>();
    com.fasterxml.jackson.databind.JsonNode m = body.remove("models");
    if (m == null || m.isNull()) {
      prices.schedules().forEach(sch -> models.add(sch.model()));
    } else if (m.isArray() && !m.isEmpty()) {
      for (com.fasterxml.jackson.databind.JsonNode n : m) {
        if (!n.isTextual() || prices.schedule(n.asText()).isEmpty()) {
          throw GatewayException.invalid("models", "'models' must list priced models; '" + truncate(n.asText()) + "' has no price.");
        }
        models.add(n.asText());
      }
    } else {
      throw GatewayException.invalid("models", "'models' must be a non-empty array of model names, or absent for every priced model.");
    }
    DiscountWindow window = AdminPriceRoutes.window(body, "");
    // Validate every model first, so that a refusal changes nothing.
    for (String model : models) {
      if (prices.schedule(model).orElseThrow().windows().size() >= PriceBook.MAX_WINDOWS_PER_MODEL) {
        throw GatewayException.invalid("models", "'" + model + "' already has " + PriceBook.MAX_WINDOWS_PER_MODEL + " windows, the most a model may have.");
      }
    }
    ObjectNode out = json.createObjectNode();
    out.put("object", "list");
    ArrayNode data = out.putArray("data");
    for (String model : models) {
      List<DiscountWindow> windows = new java.util.ArrayList<>(prices.schedule(model).orElseThrow().windows());
      windows.add(window);
      try {
        PriceSchedule updated = prices.update(model, new PriceChange(null, null, windows));
        data.add(adminPrices.schedule(updated, prices.now()));
      } catch (InvalidPriceException e) {
        throw GatewayException.invalid(e.field(), String.valueOf(e.getMessage()));
      }
    }
    return send(res, 200, out);
  }

  private static double queryNumber(ServerRequest req, String name, double dflt, double min, double max) {
    String raw = req.query().first(name).orElse(null);
    if (raw == null) {
      return dflt;
    }
    double v;
    try {
      v = Double.parseDouble(raw);
    } catch (NumberFormatException e) {
      v = Double.NaN;
    }
    if (!(v >= min && v <= max)) {
      throw GatewayException.invalid(name, "'" + name + "' must be a number from " + min + " to " + max + "; got '" + truncate(raw) + "'.");
    }
    return v;
  }

  private static String hh(int hour) {
    return String.format(java.util.Locale.ROOT, "%02d:00", hour);
  }

  /**
   * {@code POST /v1/signups {"name"}}: public self-serve sign-up, when enabled: a new account, its
   * first API key (shown once) and the configured welcome grant. Refused while the sign-ups gate
   * is closed.
   */
  int signup(ServerRequest req, ServerResponse res, RequestRecord rec) {
    if (!signups.enabled()) {
      throw new GatewayException(ErrorKind.NOT_FOUND, "Self-serve sign-up is not enabled on this server; ask the operator for an account.");
    }
    governor.check(Gate.SIGNUPS);
    ObjectNode body = admin.body(req);
    String name = AdminRoutes.requiredText(body, "name");
    if (name.isBlank() || name.length() > Accounts.MAX_NAME_LENGTH) {
      throw GatewayException.invalid("name", "'name' must be 1 to " + Accounts.MAX_NAME_LENGTH + " characters.");
    }
    Account account = accounts.createAccount(name);
    IssuedKey key = accounts.issueKey(account.id(), "default", Set.of(), null);
    ObjectNode out = json.createObjectNode();
    out.put("object", "signup");
    ObjectNode a = out.putObject("account");
    a.put("id", account.id());
    a.put("name", account.name());
    a.put("created_at", account.createdAt().toString());
    ObjectNode k = out.putObject("api_key");
    k.put("id", key.key().id());
    k.put("key", key.secret());
    k.put("prefix", key.key().prefix());
    if (signups.grantNanos() > 0) {
      Instant expires = clock.instant().plus(signups.grantValidity());
      try {
        ledger.credit("signup:" + account.id(), account.id(), CreditKind.GRANTED, signups.grantNanos(), expires).get(30, TimeUnit.SECONDS);
        ObjectNode grant = out.putObject("grant");
        grant.put("amount", Money.ofNanos(signups.grantNanos()).toString());
        grant.put("currency", Money.CURRENCY);
        grant.put("expires_at", expires.toString());
      } catch (Exception e) {
        if (e instanceof InterruptedException) {
          Thread.currentThread().interrupt();
        }
        // The account and key exist; the grant is idempotent by its id and can be credited later
        // by an operator with the same id. Say so rather than fail the whole sign-up.
        out.putNull("grant");
        out.put("grant_error", "The welcome grant could not be credited now; the operator can credit it later.");
      }
    } else {
      out.putNull("grant");
    }
    return send(res, 201, out);
  }

  private ObjectNode gate(GateStatus g) {
    ObjectNode n = json.createObjectNode();
    n.put("gate", g.gate().id());
    n.put("state", g.open() ? "open" : "closed");
    n.put("mode", g.mode().id());
    n.put("since", g.since().toString());
    n.put("reason", g.reason());
    if (g.message() == null) {
      n.putNull("message");
    } else {
      n.put("message", g.message());
    }
    if (g.retryAfter() == null) {
      n.putNull("retry_after_seconds");
    } else {
      n.put("retry_after_seconds", Math.max(1, (g.retryAfter().toMillis() + 999) / 1000));
    }
    return n;
  }

  private ObjectNode signals(Signals s) {
    ObjectNode n = json.createObjectNode();
    n.put("at", s.at().toString());
    n.put("utilization", s.utilization());
    n.put("queue_wait_p95_ms", s.queueWaitP95Millis());
    n.put("shed_rate", s.shedRate());
    if (Double.isInfinite(s.runwayDays())) {
      n.putNull("runway_days");
    } else {
      n.put("runway_days", s.runwayDays());
    }
    n.put("requests", s.requests());
    return n;
  }

  private ObjectNode policy(GovernorPolicy p) {
    ObjectNode n = json.createObjectNode();
    n.set("close", thresholds(p.close()));
    n.set("reopen", thresholds(p.reopen()));
    n.put("close_dwell_ms", p.closeDwell().toMillis());
    n.put("reopen_dwell_ms", p.reopenDwell().toMillis());
    return n;
  }

  private ObjectNode thresholds(GovernorPolicy.Thresholds t) {
    ObjectNode n = json.createObjectNode();
    n.put("utilization", t.utilization());
    n.put("queue_wait_p95_ms", t.queueWaitP95Millis());
    n.put("shed_rate", t.shedRate());
    n.put("runway_days", t.runwayDays());
    return n;
  }

  private static String truncate(String s) {
    return s.length() <= 50 ? s : s.substring(0, 50) + "...";
  }

  private static int send(ServerResponse res, int status, ObjectNode body) {
    res.status(status);
    res.header(HeaderNames.CONTENT_TYPE, "application/json");
    res.send(body.toString());
    return status;
  }
}
