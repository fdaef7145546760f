package dev.jevons.upstream;

/**
 * What an inference server's own metrics say about its load, as of one scrape.
 *
 * @param runningRequests sequences in the running batch; -1 when the server does not report it
 * @param waitingRequests sequences queued inside the server; -1 when not reported
 * @param kvCacheUsage KV-cache (token) usage in [0, 1]; NaN when not reported
 * @param prefixCacheHitRate share of prompt tokens served from the prefix cache since the previous
 *     scrape (over the server's lifetime on the first scrape), in [0, 1]; NaN when not reported or
 *     no prompt was looked up
 * @param scrapedAtNanos when the scrape that produced it finished, on the scraper's clock; for a
 *     replica never scraped successfully, when scraping started
 * @param stale true when the last successful scrape is older than the staleness limit (or there
 *     was none): the scheduler treats a stale replica as saturated
 */
public record EngineLoad(
    int runningRequests,
    int waitingRequests,
    double kvCacheUsage,
    double prefixCacheHitRate,
    long scrapedAtNanos,
    boolean stale) {

  static EngineLoad never(long sinceNanos) {
    return new EngineLoad(-1, -1, Double.NaN, Double.NaN, sinceNanos, true);
  }

  EngineLoad asStale() {
    return stale ? this : new EngineLoad(runningRequests, waitingRequests, kvCacheUsage, prefixCacheHitRate, scrapedAtNanos, true);
  }
}
