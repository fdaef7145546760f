package dev.jevons.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/** {@code jevons admin governor ...}: the gates, their override and their audit log. */
@Command(
    name = "governor",
    mixinStandardHelpOptions = true,
    description = "Show the top-up and sign-up gates, override them, read their audit log.",
    subcommands = {
      AdminGovernorCommand.Status.class,
      AdminGovernorCommand.SetOverride.class,
      AdminGovernorCommand.Events.class,
      AdminGovernorCommand.Propose.class,
      AdminGovernorCommand.Apply.class
    })
final class AdminGovernorCommand implements Runnable {
  @ParentCommand AdminCommand admin;

  @Override
  public void run() {
    admin.out.println("Use: status, override, events, propose or apply. See 'jevons admin governor --help'.");
  }

  @Command(name = "status", mixinStandardHelpOptions = true, description = "The gates, the capacity signals and the policy.")
  static final class Status implements Callable<Integer> {
    @ParentCommand AdminGovernorCommand parent;

    @Override
    public Integer call() {
      return parent.admin.call("GET", "/admin/v1/governor", null);
    }
  }

  @Command(
      name = "override",
      mixinStandardHelpOptions = true,
      description = "Force a gate open or closed, or hand it back to the automatic policy (auto).")
  static final class SetOverride implements Callable<Integer> {
    @ParentCommand AdminGovernorCommand parent;

    @Parameters(index = "0", paramLabel = "GATE", description = "top_ups or signups.")
    String gate;

    @Parameters(index = "1", paramLabel = "STATE", description = "open, closed or auto.")
    String state;

    @Option(names = "--reason", required = true, description = "Why; kept in the audit log.")
    String reason;

    @Option(names = "--message", description = "What refused customers are told (default: the configured message).")
    @Nullable String message;

    @Override
    public Integer call() {
      ObjectNode body = AdminCommand.object().put("gate", gate).put("state", state).put("reason", reason);
      if (message != null) {
        body.put("message", message);
      }
      return parent.admin.call("POST", "/admin/v1/governor/override", body);
    }
  }

  @Command(name = "events", mixinStandardHelpOptions = true, description = "The audit log of transitions and overrides, newest first.")
  static final class Events implements Callable<Integer> {
    @ParentCommand AdminGovernorCommand parent;

    @Option(names = "--gate", description = "Only this gate: top_ups or signups.")
    @Nullable String gate;

    @Option(names = "--limit", defaultValue = "50", description = "At most this many (1-1000, default ${DEFAULT-VALUE}).")
    int limit = 50;

    @Override
    public Integer call() {
      String q = "?limit=" + limit + (gate == null ? "" : "&gate=" + java.net.URLEncoder.encode(gate, java.nio.charset.StandardCharsets.UTF_8));
      return parent.admin.call("GET", "/admin/v1/governor/events" + q, null);
    }
  }

  @Command(
      name = "propose",
      mixinStandardHelpOptions = true,
      description = "Propose an off-peak discount window from the hourly demand history, with its evidence.")
  static final class Propose implements Callable<Integer> {
    @ParentCommand AdminGovernorCommand parent;

    @Option(names = "--days", description = "Days of history to look at (default: governor.shaping_history_days).")
    @Nullable Integer days;

    @Option(names = "--hours", description = "Length of the window in hours (default: governor.shaping_window_hours).")
    @Nullable Integer hours;

    @Option(names = "--target-shift", description = "Share of all demand to move, e.g. 0.1 (default: governor.shaping_target_shift).")
    @Nullable Double targetShift;

    @Override
    public Integer call() {
      StringBuilder q = new StringBuilder();
      if (days != null) {
        q.append(q.isEmpty() ? "?" : "&").append("days=").append(days);
      }
      if (hours != null) {
        q.append(q.isEmpty() ? "?" : "&").append("hours=").append(hours);
      }
      if (targetShift != null) {
        q.append(q.isEmpty() ? "?" : "&").append("target_shift=").append(targetShift);
      }
      return parent.admin.call("GET", "/admin/v1/governor/proposals" + q, null);
    }
  }

  @Command(
      name = "apply",
      mixinStandardHelpOptions = true,
      description = "Add a daily discount window (a proposal's 'apply' values) to the price schedule of every priced model, or of --model.")
  static final class Apply implements Callable<Integer> {
    @ParentCommand AdminGovernorCommand parent;

    @Option(names = "--start", required = true, description = "Start of the window, HH:MM UTC.")
    String start;

    @Option(names = "--end", required = true, description = "End of the window, HH:MM UTC (before start: crosses midnight).")
    String end;

    @Option(names = "--discount-bp", required = true, description = "Basis points off: 5000 is 50% off.")
    int discountBp;

    @Option(names = "--model", description = "Only this model; repeatable (default: every priced model).")
    java.util.List<String> models = new java.util.ArrayList<>();

    @Option(names = "--effective-until", description = "When the window ends for good, an ISO-8601 instant (default: never).")
    @Nullable String effectiveUntil;

    @Override
    public Integer call() {
      ObjectNode body = AdminCommand.object().put("start", start).put("end", end).put("discount_bp", discountBp);
      if (!models.isEmpty()) {
        var arr = body.putArray("models");
        models.forEach(arr::add);
      }
      if (effectiveUntil != null) {
        body.put("effective_until", effectiveUntil);
      }
      return parent.admin.call("POST", "/admin/v1/governor/proposals/apply", body);
    }
  }
}
