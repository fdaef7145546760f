package dev.jevons.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code jevons} command. Exit codes: 0 ok, 1 runtime failure, 2 bad usage or configuration. */
@Command(
    name = "jevons",
    mixinStandardHelpOptions = true,
    version = "jevons 0.1.0",
    description = "An OpenAI-compatible LLM API platform: keys, billing, fair queueing and routing over inference servers.",
    subcommands = {ServeCommand.class, SimCommand.class, DemoCommand.class, AdminCommand.class, BenchCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  static CommandLine commandLine() {
    CommandLine cl = new CommandLine(new Main());
    cl.setExitCodeExceptionMapper(t -> 1);
    return cl;
  }
}
