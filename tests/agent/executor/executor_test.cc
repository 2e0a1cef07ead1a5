// Thread pools reported through ExecutorMonitor and TaskScope: Micrometer's executor metrics,
// exact under concurrency, and stalled tasks reported once.

#include "vitals/executor.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "examples/worker_pool.h"
#include "tests/support/fakes.h"
#include "tests/support/metrics_text.h"
#include "vitals/agent.h"

namespace {

using vitals_test::SampleValue;

struct Fixture : vitals_test::ClockAndLog {
  vitals::ExecutorOptions Pool(int threads) {
    vitals::ExecutorOptions o;
    o.pool_size = threads;
    o.stall_threshold = absl::Seconds(10);
    return o;
  }
};

double Value(const std::string& body, const std::string& metric, const std::string& pool) {
  return SampleValue(body, metric + "{name=\"" + pool + "\"}");
}

TEST_CASE_METHOD(Fixture, "executor: queue, active, completed, run and wait times by pool",
                 "[executor]") {
  vitals::Agent agent(Options());
  vitals::ExecutorOptions o = Pool(4);
  o.max_pool_size = 16;
  o.queue_capacity = 100;
  auto pool = agent.Executor("image_workers", o);
  REQUIRE(pool.ok());
  const vitals::TaskTicket t1 = pool->Submitted();
  const vitals::TaskTicket t2 = pool->Submitted();
  const vitals::TaskTicket t3 = pool->Submitted();
  CHECK(t1.submitted());
  std::string body = agent.RenderText();
  CHECK(Value(body, "executor_queued_tasks", "image_workers") == 3);
  CHECK(Value(body, "executor_queue_remaining_tasks", "image_workers") == 97);
  CHECK(Value(body, "executor_pool_size_threads", "image_workers") == 4);
  CHECK(Value(body, "executor_pool_core_threads", "image_workers") == 4);  // the pool size
  CHECK(Value(body, "executor_pool_max_threads", "image_workers") == 16);
  CHECK(Value(body, "executor_active_threads", "image_workers") == 0);

  clock.AdvanceMs(3);  // t1 and t2 waited 3 ms
  {
    vitals::TaskScope a(*pool, t1, "resize");
    vitals::TaskScope b(*pool, t2, "crop");
    body = agent.RenderText();
    CHECK(Value(body, "executor_active_threads", "image_workers") == 2);
    CHECK(Value(body, "executor_queued_tasks", "image_workers") == 1);
    clock.AdvanceMs(20);  // both ran 20 ms
  }
  pool->Discarded(t3);  // t3 never runs
  {
    vitals::TaskScope inline_task(*pool, vitals::TaskTicket(), "inline");  // never queued
    clock.AdvanceMs(200);
    CHECK(inline_task.Finish() == absl::Milliseconds(200));
    CHECK(inline_task.Finish() == absl::ZeroDuration());  // once
  }
  body = agent.RenderText();
  INFO(body.substr(body.find("# HELP executor_"), 6000));
  CHECK(Value(body, "executor_queued_tasks", "image_workers") == 0);
  CHECK(Value(body, "executor_queue_remaining_tasks", "image_workers") == 100);
  CHECK(Value(body, "executor_active_threads", "image_workers") == 0);
  CHECK(Value(body, "executor_completed_tasks_total", "image_workers") == 3);
  CHECK(Value(body, "executor_seconds_count", "image_workers") == 3);
  CHECK(Value(body, "executor_seconds_sum", "image_workers") == Approx(0.24));
  CHECK(SampleValue(body, "executor_seconds_bucket{name=\"image_workers\",le=\"0.025\"}") == 2);
  // Only the two queued tasks that started have a wait, of 3 ms each.
  CHECK(Value(body, "executor_idle_seconds_count", "image_workers") == 2);
  CHECK(Value(body, "executor_idle_seconds_sum", "image_workers") == Approx(0.006));
  CHECK(SampleValue(body, "executor_idle_seconds_bucket{name=\"image_workers\",le=\"0.001\"}") ==
        0);
  CHECK(SampleValue(body, "executor_idle_seconds_bucket{name=\"image_workers\",le=\"0.005\"}") ==
        2);
  CHECK(Value(body, "vitals_executor_stalled_tasks_total", "image_workers") == 0);

  pool->SetPoolSize(6);
  CHECK(Value(agent.RenderText(), "executor_pool_size_threads", "image_workers") == 6);
}

TEST_CASE_METHOD(Fixture, "executor: pools are named once, with options that make sense",
                 "[executor]") {
  vitals::Agent agent(Options());
  auto a = agent.Executor("workers", Pool(4));
  auto again = agent.Executor("workers", Pool(4));
  REQUIRE(a.ok());
  REQUIRE(again.ok());
  a->Submitted();
  again->Submitted();
  CHECK(Value(agent.RenderText(), "executor_queued_tasks", "workers") == 2);  // one pool

  auto other = agent.Executor("workers", Pool(8));
  CHECK(other.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(other.status().message().find("other options") != absl::string_view::npos);
  CHECK(agent.Executor("", Pool(1)).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(agent.Executor("neg", Pool(-1)).status().code() == absl::StatusCode::kInvalidArgument);
  vitals::ExecutorOptions bad = Pool(1);
  bad.stall_threshold = absl::Seconds(-1);
  CHECK(agent.Executor("bad", bad).status().code() == absl::StatusCode::kInvalidArgument);
  bad = Pool(1);
  bad.watched_tasks = 1 << 20;
  CHECK(agent.Executor("bad", bad).status().code() == absl::StatusCode::kInvalidArgument);
  for (int i = 1; i < 256; ++i) {  // "workers" is the first of 256
    REQUIRE(agent.Executor("pool" + std::to_string(i), Pool(1)).ok());
  }
  CHECK(agent.Executor("one_too_many", Pool(1)).status().code() ==
        absl::StatusCode::kResourceExhausted);
  // A default monitor records nothing and never crashes.
  vitals::ExecutorMonitor none;
  CHECK_FALSE(none.valid());
  vitals::TaskScope task(none, none.Submitted(), "x");
  CHECK(task.Finish() == absl::ZeroDuration());
  CHECK(none.CheckStalls() == 0);
}

TEST_CASE_METHOD(Fixture, "executor: a task past the stall threshold is reported once",
                 "[executor]") {
  vitals::Agent agent(Options());
  auto pool = agent.Executor("image_workers", Pool(2));
  REQUIRE(pool.ok());
  auto slow = std::make_unique<vitals::TaskScope>(*pool, pool->Submitted(), "render_pdf");
  clock.Advance(absl::ToInt64Nanoseconds(absl::Seconds(10)) - 1);
  CHECK(pool->CheckStalls() == 0);  // not yet
  {
    vitals::TaskScope quick(*pool, pool->Submitted(), "thumbnail");
    clock.Advance(1);
    CHECK(pool->CheckStalls() == 1);  // render_pdf, 10 s; thumbnail just started
    clock.AdvanceMs(30000);
    // thumbnail is 30 s old now; render_pdf was reported already.
    CHECK(pool->CheckStalls() == 1);
    CHECK(pool->CheckStalls() == 0);
  }
  slow.reset();
  CHECK(pool->CheckStalls() == 0);
  CHECK(Value(agent.RenderText(), "vitals_executor_stalled_tasks_total", "image_workers") == 2);
  const auto lines = sink->lines();
  REQUIRE(lines.size() == 2);
  CHECK(lines[0] ==
        "WARNING executor \"image_workers\": task \"render_pdf\" has been running "
        "for 10.0 s (stall threshold 10s)");
  CHECK(lines[1].find("task \"thumbnail\" has been running for 30.0 s") != std::string::npos);

  // A task that ends before a check is never a stall, however long it ran.
  {
    vitals::TaskScope long_one(*pool, vitals::TaskTicket(), "batch");
    clock.AdvanceMs(60000);
  }
  CHECK(pool->CheckStalls() == 0);

  // Watched slots all taken: the task runs, counted, and is not checked.
  vitals::ExecutorOptions one_slot = Pool(1);
  one_slot.watched_tasks = 1;
  auto narrow = agent.Executor("narrow", one_slot);
  REQUIRE(narrow.ok());
  {
    vitals::TaskScope first(*narrow, vitals::TaskTicket(), "first");
    vitals::TaskScope second(*narrow, vitals::TaskTicket(), "second");
    clock.AdvanceMs(20000);
    CHECK(narrow->CheckStalls() == 1);  // "first" only
  }
  {
    vitals::TaskScope third(*narrow, vitals::TaskTicket(), "third");  // the slot is free again
  }
  const std::string narrow_text = agent.RenderText();
  CHECK(Value(narrow_text, "vitals_executor_unwatched_tasks_total", "narrow") == 1);
  CHECK(Value(narrow_text, "vitals_executor_unwatched_tasks_total", "image_workers") == 0);

  // Stalls not watched: a zero threshold.
  vitals::ExecutorOptions unwatched = Pool(1);
  unwatched.stall_threshold = absl::ZeroDuration();
  auto quiet = agent.Executor("quiet", unwatched);
  REQUIRE(quiet.ok());
  vitals::TaskScope forever(*quiet, vitals::TaskTicket(), "forever");
  clock.AdvanceMs(1e6);
  CHECK(quiet->CheckStalls() == 0);
}

TEST_CASE_METHOD(Fixture, "executor: a started agent finds a stall by itself",
                 "[executor][concurrency]") {
  vitals::Options options = Options();
  options.clock = nullptr;  // the real clock: the agent's checker runs on its own
  options.http_enabled = false;
  options.process_metrics = false;
  vitals::Agent agent(options);
  REQUIRE(agent.Start().ok());
  vitals::ExecutorOptions o = Pool(1);
  o.stall_threshold = absl::Milliseconds(1);
  auto pool = agent.Executor("checked", o);
  REQUIRE(pool.ok());
  vitals::TaskScope task(*pool, vitals::TaskTicket(), "stuck");
  // Waits for the checker's report (a count, not a guess at how long it takes), 30 s at most.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (sink->lines().empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(sink->lines().size() == 1);
  CHECK(sink->lines()[0].find("task \"stuck\" has been running") != std::string::npos);
  CHECK(Value(agent.RenderText(), "vitals_executor_stalled_tasks_total", "checked") == 1);
  agent.Stop();
}

TEST_CASE_METHOD(Fixture, "executor: exact figures from four workers and two submitters",
                 "[executor][concurrency]") {
  vitals::Agent agent(Options());
  auto monitor = agent.Executor("pool", Pool(4));
  REQUIRE(monitor.ok());
  std::atomic<int> ran{0};
  constexpr int kPerSubmitter = 5000;
  {
    demo::WorkerPool pool(*monitor, 4);
    std::vector<std::thread> submitters;
    for (int s = 0; s < 2; ++s) {
      submitters.emplace_back([&] {
        for (int i = 0; i < kPerSubmitter; ++i) pool.Submit("work", [&] { ran.fetch_add(1); });
      });
    }
    // Scrapes and stall checks race the workers.
    for (int i = 0; i < 20; ++i) {
      agent.RenderText();
      monitor->CheckStalls();
    }
    for (auto& t : submitters) t.join();
  }  // the pool drains its queue, then joins
  REQUIRE(ran.load() == 2 * kPerSubmitter);
  const std::string body = agent.RenderText();
  CHECK(Value(body, "executor_completed_tasks_total", "pool") == 2 * kPerSubmitter);
  CHECK(Value(body, "executor_seconds_count", "pool") == 2 * kPerSubmitter);
  CHECK(Value(body, "executor_idle_seconds_count", "pool") == 2 * kPerSubmitter);
  CHECK(Value(body, "executor_queued_tasks", "pool") == 0);
  CHECK(Value(body, "executor_active_threads", "pool") == 0);
}

}  // namespace
