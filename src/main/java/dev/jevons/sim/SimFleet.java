package dev.jevons.sim;

import java.net.URI;
import java.util.ArrayList;
import java.util.List;

/**
 * K simulated replicas, each its own server and engine, on consecutive ports from {@code
 * firstPort} (or each on an ephemeral port when {@code firstPort} is 0).
 */
public final class SimFleet implements AutoCloseable {
  public static final int MAX_REPLICAS = 256;

  private final List<SimServer> servers;

  private SimFleet(List<SimServer> servers) {
    this.servers = List.copyOf(servers);
  }

  public static SimFleet start(SimConfig config, int replicas, int firstPort) {
    if (replicas < 1 || replicas > MAX_REPLICAS) {
      throw new IllegalArgumentException("replicas must be in [1, " + MAX_REPLICAS + "]: " + replicas);
    }
    if (firstPort < 0 || (firstPort > 0 && firstPort + replicas - 1 > 65_535)) {
      throw new IllegalArgumentException(
          "ports " + firstPort + ".." + (firstPort + replicas - 1) + " are out of range");
    }
    List<SimServer> started = new ArrayList<>(replicas);
    try {
      for (int i = 0; i < replicas; i++) {
        started.add(SimServer.start(config, firstPort == 0 ? 0 : firstPort + i));
      }
    } catch (RuntimeException e) {
      started.forEach(SimServer::close);
      throw e;
    }
    return new SimFleet(started);
  }

  /** Each like {@code http://127.0.0.1:PORT/v1}, in replica order. */
  public List<URI> baseUrls() {
    return servers.stream().map(SimServer::baseUrl).toList();
  }

  /** Each replica's engine counters now, in replica order. */
  public List<EngineModel.Stats> stats() {
    return servers.stream().map(SimServer::stats).toList();
  }

  @Override
  public void close() {
    for (SimServer s : servers) s.close();
  }
}
