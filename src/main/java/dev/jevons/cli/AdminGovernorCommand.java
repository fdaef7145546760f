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
    subcommands = {AdminGovernorCommand.Status.class, AdminGovernorCommand.SetOverride.class, AdminGovernorCommand.Events.class})
final class AdminGovernorCommand implements Runnable {
  @ParentCommand AdminCommand admin;

  @Override
  public void run() {
    admin.out.println("Use: status, override or events. See 'jevons admin governor --help'.");
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
}
