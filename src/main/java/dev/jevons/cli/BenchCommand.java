package dev.jevons.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code jevons bench ...}: whole-system measurements; results belong in docs/BENCHMARKS.md. */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    description = {
      "Benchmarks. The gateway-overhead run (wrk, nginx, the simulator) is the script bench/overhead.sh.",
      "Record results with the command, the machine and the date in docs/BENCHMARKS.md."
    },
    subcommands = {BenchLedgerCommand.class, BenchOverloadCommand.class, BenchPrefixCommand.class})
public final class BenchCommand implements Runnable {
  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }
}
