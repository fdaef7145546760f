import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a JFR recording's samples fall: by top frame, by method anywhere on the stack (inclusive),
 * and the stacks under one top frame. Reads CPU-time samples ({@code jdk.CPUTimeSample}, from
 * {@code CPU_SAMPLES=1 PROFILE=... bench/cpu-per-request.sh}) and wall-clock execution samples
 * alike; with CPU-time samples a share of the samples is a share of the process's CPU, so two
 * recordings (billing on and off, say) compare as µs per request once multiplied by the CPU per
 * request that the script prints.
 *
 * <pre>
 * java bench/JfrTop.java FILE [--top N] [--under METHOD] [--inclusive PREFIX] [--stacks FRAME] [--depth N]
 *   --top N           the N top frames with the largest shares (default 25)
 *   --under METHOD    only samples with a frame whose Class.method contains METHOD (e.g. Charge.settle)
 *   --inclusive P     the methods starting with P (e.g. dev.jevons) by share of samples anywhere on the stack
 *   --stacks FRAME    the most common stacks (DEPTH frames, default 8) whose top frame contains FRAME
 * </pre>
 */
public final class JfrTop {
  public static void main(String[] args) throws Exception {
    if (args.length == 0 || args.length % 2 == 0) {
      usage();
    }
    Path file = Path.of(args[0]);
    int top = 25;
    int depth = 8;
    String under = null;
    String inclusive = null;
    String stacksOf = null;
    for (int i = 1; i < args.length; i += 2) {
      switch (args[i]) {
        case "--top" -> top = Integer.parseInt(args[i + 1]);
        case "--depth" -> depth = Integer.parseInt(args[i + 1]);
        case "--under" -> under = args[i + 1];
        case "--inclusive" -> inclusive = args[i + 1];
        case "--stacks" -> stacksOf = args[i + 1];
        default -> usage();
      }
    }
    Map<String, Integer> topFrames = new HashMap<>();
    Map<String, Integer> anywhere = new HashMap<>();
    Map<String, Integer> stacks = new HashMap<>();
    int total = 0;
    int kept = 0;
    for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
      String type = e.getEventType().getName();
      if (!type.equals("jdk.CPUTimeSample") && !type.equals("jdk.ExecutionSample") || e.getStackTrace() == null) {
        continue;
      }
      total++;
      List<String> frames = new ArrayList<>();
      for (RecordedFrame f : e.getStackTrace().getFrames()) {
        frames.add(f.getMethod().getType().getName() + "." + f.getMethod().getName());
      }
      if (frames.isEmpty() || under != null && !anyContains(frames, under)) {
        continue;
      }
      kept++;
      topFrames.merge(frames.get(0), 1, Integer::sum);
      if (inclusive != null) {
        Set<String> seen = new HashSet<>();
        for (String f : frames) {
          if (f.startsWith(inclusive) && seen.add(f)) {
            anywhere.merge(f, 1, Integer::sum);
          }
        }
      }
      if (stacksOf != null && frames.get(0).contains(stacksOf)) {
        stacks.merge(String.join("\n    ", frames.subList(0, Math.min(depth, frames.size()))), 1, Integer::sum);
      }
    }
    System.out.printf("%,d samples%s%n", total, under == null ? "" : String.format(", %,d (%.1f%%) under %s", kept, share(kept, total), under));
    print("top frames, share of all samples", topFrames, top, total);
    if (inclusive != null) {
      print("anywhere on the stack, share of all samples", anywhere, top, total);
    }
    if (stacksOf != null) {
      print("stacks under " + stacksOf, stacks, 8, total);
    }
  }

  private static boolean anyContains(List<String> frames, String part) {
    for (String f : frames) {
      if (f.contains(part)) {
        return true;
      }
    }
    return false;
  }

  private static void print(String title, Map<String, Integer> counts, int limit, int total) {
    System.out.println("-- " + title);
    counts.entrySet().stream()
        .sorted(Map.Entry.<String, Integer>comparingByValue().reversed())
        .limit(limit)
        .forEach(e -> System.out.printf("%6.1f%%  %s%n", share(e.getValue(), total), e.getKey()));
  }

  private static double share(int n, int total) {
    return total == 0 ? 0 : 100.0 * n / total;
  }

  private static void usage() {
    System.err.println("usage: java bench/JfrTop.java FILE [--top N] [--under METHOD] [--inclusive PREFIX] [--stacks FRAME] [--depth N]");
    System.exit(2);
  }
}
