package dev.jevons.cli;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import picocli.CommandLine;

/** Runs {@code jevons admin ...} against a running app, capturing what it prints. */
final class AdminCli {
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  final ByteArrayOutputStream err = new ByteArrayOutputStream();

  /** The exit code of {@code jevons admin --url <app> --token <admin token> args...}. */
  int run(JevonsApp app, String... args) {
    AdminCommand command = new AdminCommand();
    command.out = new PrintStream(out, true, StandardCharsets.UTF_8);
    command.err = new PrintStream(err, true, StandardCharsets.UTF_8);
    String[] all = new String[args.length + 4];
    all[0] = "--url";
    all[1] = app.baseUrl().toString();
    all[2] = "--token";
    all[3] = app.adminToken();
    System.arraycopy(args, 0, all, 4, args.length);
    return new CommandLine(command).execute(all);
  }

  String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  String err() {
    return err.toString(StandardCharsets.UTF_8);
  }
}
