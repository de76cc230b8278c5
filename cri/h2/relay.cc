#include "cri/h2/relay.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <nghttp2/nghttp2.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <thread>

#include "cri/h2/grpc_wire.h"
#include "policy/base/files.h"
#include "policy/base/metrics.h"
#include "policy/base/text.h"

namespace crigate::cri::h2 {
namespace {

constexpr size_t kReadChunk = size_t{64} * 1024;
// What one caller connection may make crigate hold: a caller that can reach
// the socket must not be able to take the memory or the workers. A CRI
// request's header block is a few hundred bytes (grpc's own default limit is
// 8 KiB); kubelet runs a few gated calls at once.
constexpr size_t kMaxHeaderBytes = size_t{64} * 1024;
constexpr int kMaxDecidingPerConnection = 64;

struct Conn;

// One caller stream and the containerd stream it is relayed on.
struct Stream {
  Conn* conn = nullptr;
  int32_t client_id = 0;
  int32_t backend_id = -1;  // -1: not relayed (refused, or not yet)
  std::vector<Field> request;
  bool client_ended = false;   // the caller half-closed
  bool client_closed = false;  // the server session closed the stream
  bool backend_closed = true;  // true until relayed
  std::string up;              // caller DATA not yet taken by the backend session
  std::string down;            // containerd DATA not yet taken by the server session
  std::vector<Field> response;
  std::vector<Field> trailers;
  bool backend_ended = false;
  bool responded = false;                   // response HEADERS submitted to the caller
  bool answered = false;                    // answered by the relay itself (trailers-only)
  base::Code answer_code = base::Code::OK;  // what it answered, then
  bool begun = false;                       // its header block was judged (Begin)
  Route route = Route::kRefuse;
  // Held streams (Route::kHold) only.
  bool held = false;
  RequestHead head;
  std::unique_ptr<FirstMessage> first;
  bool deciding = false;                          // a worker has the call
  bool decided = false;                           // allowed and relayed
  std::chrono::steady_clock::time_point arrived;  // its header block, for grpc-timeout
  // Allowed held streams with Verdict::after.
  std::function<base::Status(const CallEnd&)> after;
  bool after_inline = false;
  bool after_ran = false;      // started: it runs once
  bool after_pending = false;  // its result decides the status the caller gets
  bool got_response = false;   // containerd sent its response headers
  bool trailers_only = false;  // containerd answered trailers-only, held for after
  std::string answer_bytes;    // containerd's DATA, for CallEnd::last_response
  bool answer_overflow = false;
  uint64_t backend_generation = 0;  // which of the connection's containerd sessions it is on
  size_t header_bytes = 0;          // names and values of its request header block
  bool header_overflow = false;     // more than kMaxHeaderBytes: refused, not kept
  size_t held_bytes = 0;            // counted in Conn::held_bytes
};

struct Endpoint {
  Conn* conn;
  bool backend;
  uint32_t watched = 0;  // the events epoll has for its fd; 0: not in the set
};

// A caller connection and its own connection to containerd.
struct Conn {
  Relay::Impl* relay = nullptr;
  int client_fd = -1;
  int backend_fd = -1;
  Endpoint client_end{this, false};
  Endpoint backend_end{this, true};
  nghttp2_session* server = nullptr;   // caller side: we are the server
  nghttp2_session* backend = nullptr;  // containerd side: we are the client
  std::string client_out, backend_out;
  std::map<int32_t, std::unique_ptr<Stream>> streams;  // by caller stream id
  bool dead = false;
  uint64_t serial = 0;  // names the connection to verdicts that outlive it
  int peer_pid = -1, peer_uid = -1, peer_gid = -1;
  uint64_t backend_generation = 0;  // bumped at every connection to containerd
  size_t held_bytes = 0;            // first messages of held streams, kept here
  int deciding = 0;                 // decisions out on workers, its streams gone or not
};

// A decision's answer, on its way back to the loop.
struct Decided {
  uint64_t conn_serial;
  int32_t client_id;
  Verdict verdict;
};

// Verdict::after's result, on its way back to the loop.
struct Finished {
  uint64_t conn_serial;
  int32_t client_id;
  base::Status status;
};

// A call answered UNAVAILABLE because containerd could not be reached or its
// connection was lost (the resolver counts its own, via="lookup").
base::Counter& BackendUnavailable() {
  static base::Counter& counter =
      base::DefaultRegistry()
          .Counters("crigate_backend_unavailable_total",
                    "Calls or lookups that found containerd unavailable, by who met it "
                    "(front_end: a call answered UNAVAILABLE; lookup: a fact asked of containerd).",
                    {"via"})
          .With({"front_end"});
  return counter;
}

void CountBackendUnavailable() { BackendUnavailable().Inc(); }

// The value of the first field named `name`, or empty.
std::string_view ValueOf(const std::vector<Field>& fields, std::string_view name) {
  for (const Field& f : fields) {
    if (f.name == name) return f.value;
  }
  return {};
}

std::vector<nghttp2_nv> ToNv(const std::vector<Field>& fields, bool skip_gate_only) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (const Field& f : fields) {
    if (skip_gate_only && f.name == "authorization") continue;
    nv.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(f.name.data())),
                  reinterpret_cast<uint8_t*>(const_cast<char*>(f.value.data())), f.name.size(),
                  f.value.size(), NGHTTP2_NV_FLAG_NONE});
  }
  return nv;
}

}  // namespace

struct Relay::Impl {
  RelayOptions options;
  int epoll_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::vector<int> adopted;  // guarded by mu
  std::map<Conn*, std::unique_ptr<Conn>> conns;
  std::map<uint64_t, Conn*> by_serial;
  uint64_t next_serial = 1;
  std::vector<Conn*> graveyard;              // closed this round, deleted after it
  std::vector<Decided> decided;              // guarded by mu
  std::vector<Finished> finished;            // guarded by mu
  bool drain_requested = false;              // guarded by mu
  std::chrono::milliseconds drain_grace{0};  // guarded by mu
  bool draining = false;                     // loop thread: GOAWAY went out
  std::chrono::steady_clock::time_point drain_deadline;

  ~Impl() {
    // Allowed after the loop stopped: never relayed, so undone.
    for (Decided& done : decided) {
      if (done.verdict.status.ok() && done.verdict.undo) done.verdict.undo();
    }
    for (auto& [raw, conn] : conns) Close(conn.get());
    conns.clear();
    for (int fd : adopted) close(fd);
    if (epoll_fd >= 0) close(epoll_fd);
    if (wake_fd >= 0) close(wake_fd);
  }

  const std::string& BackendName() const {
    return options.backend_name.empty() ? options.backend_socket : options.backend_name;
  }

  // ---- connections ----

  // Asks epoll for what the endpoint needs now; no system call when that
  // has not changed (most rounds: reading, nothing left to write).
  void Watch(int fd, Endpoint* end, bool want_write) {
    const uint32_t events = EPOLLIN | EPOLLRDHUP | (want_write ? uint32_t{EPOLLOUT} : 0u);
    if (end->watched == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = end;
    const int op = end->watched == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    if (epoll_ctl(epoll_fd, op, fd, &ev) == 0) end->watched = events;
  }

  Conn* Open(int fd) {
    auto conn = std::make_unique<Conn>();
    conn->relay = this;
    conn->client_fd = fd;
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &ServerBeginHeaders);
    nghttp2_session_callbacks_set_on_header_callback(cb, &ServerHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &ServerFrame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &ServerData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &ServerClose);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &ServerSent);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    // The relay checks the header block itself (grpc_wire.h): nghttp2's
    // HTTP checks would refuse crictl's :authority (the socket's path).
    nghttp2_option_set_no_http_messaging(opt, 1);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_server_new2(&conn->server, cb, conn.get(), opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000},
                                         {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(conn->server, NGHTTP2_FLAG_NONE, settings, 2);
    ucred peer{};
    socklen_t len = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0) {
      conn->peer_pid = peer.pid;
      conn->peer_uid = static_cast<int>(peer.uid);
      conn->peer_gid = static_cast<int>(peer.gid);
    }
    conn->serial = next_serial++;
    Watch(fd, &conn->client_end, true);
    Conn* raw = conn.get();
    by_serial[raw->serial] = raw;
    conns.emplace(raw, std::move(conn));
    return raw;
  }

  int ConnectUnix() const {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (options.backend_socket.size() >= sizeof(addr.sun_path)) {
      close(fd);
      errno = ENAMETOOLONG;
      return -1;
    }
    std::memcpy(addr.sun_path, options.backend_socket.c_str(), options.backend_socket.size() + 1);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && errno != EAGAIN &&
        errno != EINPROGRESS) {
      const int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
    return fd;
  }

  // containerd's side, opened on the connection's first relayed stream.
  bool ConnectBackend(Conn* conn) {
    if (conn->backend != nullptr) return true;
    const int fd = options.connect_backend ? options.connect_backend() : ConnectUnix();
    if (fd < 0) return false;
    conn->backend_fd = fd;
    ++conn->backend_generation;
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, &BackendHeader);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &BackendFrame);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &BackendData);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &BackendClose);
    nghttp2_option* opt = nullptr;
    nghttp2_option_new(&opt);
    nghttp2_option_set_no_http_messaging(opt, 1);
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_session_client_new2(&conn->backend, cb, conn, opt);
    nghttp2_session_callbacks_del(cb);
    nghttp2_option_del(opt);
    nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(conn->backend, NGHTTP2_FLAG_NONE, settings, 1);
    Watch(fd, &conn->backend_end, true);
    return true;
  }

  // Drain: the caller may finish the streams it has and open no more; the
  // connection closes once they are done (Service sees no more to do).
  void GoAway(Conn* conn) {
    nghttp2_submit_goaway(conn->server, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(conn->server), NGHTTP2_NO_ERROR,
                          nullptr, 0);
  }

  void Close(Conn* conn) {
    for (auto& [id, stream] : conn->streams) {
      EndAfter(stream.get(),
               base::Status(base::Code::CANCELLED, "crigate: the caller's connection closed"));
      if (AwaitingRequest(*stream) && !stream->client_closed) {
        // No stream-close callback comes once the session is deleted: the
        // call that never got to its decision is recorded here.
        Report(stream.get(), base::Status(base::Code::CANCELLED,
                                          "crigate: the caller's connection closed before its "
                                          "request arrived whole"));
      }
    }
    if (conn->client_fd >= 0) close(conn->client_fd);
    if (conn->backend_fd >= 0) close(conn->backend_fd);
    conn->client_fd = conn->backend_fd = -1;
    if (conn->server != nullptr) nghttp2_session_del(conn->server);
    if (conn->backend != nullptr) nghttp2_session_del(conn->backend);
    conn->server = conn->backend = nullptr;
  }

  // containerd's connection is gone: every stream still waiting on it is
  // answered UNAVAILABLE (or reset, if its answer had begun); the caller's
  // connection stays, and the next stream connects again.
  void DropBackend(Conn* conn) {
    if (conn->backend_fd >= 0) close(conn->backend_fd);  // leaves the epoll set
    conn->backend_fd = -1;
    conn->backend_end.watched = 0;
    if (conn->backend != nullptr) nghttp2_session_del(conn->backend);
    conn->backend = nullptr;
    conn->backend_out.clear();
    std::vector<Stream*> gone;
    for (auto& [id, stream] : conn->streams) {
      if (stream->backend_closed) continue;
      stream->backend_closed = true;
      stream->backend_id = -1;
      if (stream->backend_ended) {
        // containerd's answer is all here (what is left of it goes out from
        // `down`, or once `after` is back): nothing was lost.
        if (stream->client_closed) gone.push_back(stream.get());
        continue;
      }
      // It may have run: containerd had the request when the connection
      // went, so a token's use stays used.
      EndAfter(stream.get(),
               base::Status::Unavailable(fmt::format(
                   "crigate: the connection to containerd at {} was lost", BackendName())));
      if (stream->client_closed) {
        gone.push_back(stream.get());
        continue;
      }
      if (!stream->responded) {
        CountBackendUnavailable();
        Answer(stream.get(), base::Code::UNAVAILABLE,
               fmt::format("crigate: the connection to containerd at {} was lost", BackendName()));
      } else {
        nghttp2_submit_rst_stream(conn->server, NGHTTP2_FLAG_NONE, stream->client_id,
                                  NGHTTP2_INTERNAL_ERROR);
      }
    }
    for (Stream* stream : gone) Forget(stream);
  }

  // ---- streams ----

  // A trailers-only answer from the relay itself. Once it is on the wire
  // (ServerSent), a caller still sending is reset: the answer comes first.
  void Answer(Stream* stream, base::Code code, const std::string& message) {
    const std::vector<Field> fields = TrailersOnly(code, message);
    std::vector<nghttp2_nv> nv = ToNv(fields, false);
    stream->responded = true;
    stream->answered = true;
    stream->answer_code = code;
    nghttp2_submit_response(stream->conn->server, stream->client_id, nv.data(), nv.size(), nullptr);
  }

  // An OK answer with one message, from the relay itself: response
  // headers, the message through ReadDown, then OK trailers. The stream
  // counts as decided (a second message resets it) and never had a
  // containerd stream (backend_id stays -1).
  void AnswerLocally(Stream* stream, const std::string& message) {
    stream->decided = true;
    ReleaseHeld(stream);
    stream->response = {{":status", "200"}, {"content-type", "application/grpc"}};
    stream->down = FrameMessage(message);
    stream->trailers = {{"grpc-status", "0"}};
    stream->backend_ended = true;
    std::vector<nghttp2_nv> nv = ToNv(stream->response, false);
    nghttp2_data_provider down{};
    down.source.ptr = stream;
    down.read_callback = &ReadDown;
    stream->responded = true;
    nghttp2_submit_response(stream->conn->server, stream->client_id, nv.data(), nv.size(), &down);
  }

  // Tells `ended` how the caller's stream ended: the relay's own answer, or
  // the grpc-status it relayed, or a reset.
  void Ended(const Stream* stream, uint32_t error_code) const {
    if (!options.ended || !stream->begun) return;
    StreamEnd end;
    end.path = stream->head.path;
    end.route = stream->route;
    end.answered_by_relay = stream->answered;
    end.elapsed = std::chrono::steady_clock::now() - stream->arrived;
    if (stream->answered) {
      end.outcome = stream->answer_code;
    } else {
      const std::optional<uint64_t> code = base::ParseDecimal(
          ValueOf(stream->trailers_only ? stream->response : stream->trailers, "grpc-status"));
      end.outcome = code && *code <= 16                       ? static_cast<base::Code>(*code)
                    : error_code != NGHTTP2_NO_ERROR || !code ? base::Code::CANCELLED
                                                              : base::Code::UNKNOWN;
    }
    options.ended(end);
  }

  // A refusal by the relay itself: answered, and told to `refused`.
  // The record is written before the answer is queued, here on the loop
  // thread (one local append): a caller that has its refusal finds it in
  // the audit log, as with the proxy.
  void Refuse(Stream* stream, base::Code code, const std::string& message) {
    Report(stream, base::Status(code, message), /*now=*/true);
    Answer(stream, code, message);
  }

  // Tells `refused`; on a worker unless `now`.
  void Report(Stream* stream, base::Status refusal, bool now = false) {
    if (!options.refused) return;
    HeldCall call = CallOf(stream);
    if (stream->first && stream->first->state() == FirstMessage::State::kComplete) {
      call.message = stream->first->payload();
    }
    if (now) {
      options.refused(call, refusal);
      return;
    }
    Post([this, call = std::move(call), refusal = std::move(refusal)] {
      options.refused(call, refusal);
    });
  }

  HeldCall CallOf(const Stream* stream) const {
    HeldCall call;
    call.head = stream->head;
    call.path = stream->head.path.empty() ? std::string(ValueOf(stream->request, ":path"))
                                          : stream->head.path;
    call.peer_pid = stream->conn->peer_pid;
    call.peer_uid = stream->conn->peer_uid;
    call.peer_gid = stream->conn->peer_gid;
    return call;
  }

  void Post(std::function<void()> task) {
    if (options.post) {
      options.post(std::move(task));
    } else {
      std::thread(std::move(task)).detach();
    }
  }

  void Wake() {
    const uint64_t one = 1;
    ssize_t ignored = write(wake_fd, &one, sizeof(one));
    (void)ignored;
  }

  // The allowed call ended while nobody waits for its status (the caller
  // or containerd went away): after still runs, its result unused.
  void EndAfter(Stream* stream, base::Status answer, bool may_have_run = true) {
    if (!stream->after || stream->after_ran) return;
    stream->after_ran = true;
    CallEnd end;
    end.answer = std::move(answer);
    end.reached_backend = may_have_run || stream->got_response;
    if (stream->after_inline) {
      base::Status ignored = stream->after(end);
      (void)ignored;
      return;
    }
    Post([after = std::move(stream->after), end]() {
      base::Status ignored = after(end);
      (void)ignored;
    });
  }

  // containerd's answer to an allowed call is in (status in `answer`):
  // after runs before the caller gets it. False when there is no after.
  bool RunAfter(Stream* stream, base::Status answer) {
    if (!stream->after || stream->after_ran) return false;
    stream->after_ran = true;
    std::optional<std::string> last;
    if (!stream->answer_overflow) {
      last = LastMessage(stream->answer_bytes, ValueOf(stream->response, "grpc-encoding"),
                         options.max_message_bytes);
    }
    stream->answer_bytes.clear();
    if (stream->after_inline) {
      CallEnd end{std::move(answer), stream->got_response, last ? &*last : nullptr};
      base::Status status = stream->after(end);
      stream->after_pending = true;
      ApplyAfter(stream, status);
      return true;
    }
    stream->after_pending = true;
    const uint64_t serial = stream->conn->serial;
    const int32_t id = stream->client_id;
    Post([this, serial, id, after = std::move(stream->after), answer = std::move(answer),
          reached = stream->got_response, last = std::move(last)]() mutable {
      CallEnd end{std::move(answer), reached, last ? &*last : nullptr};
      base::Status status = after(end);
      {
        std::lock_guard<std::mutex> lock(mu);
        finished.push_back({serial, id, std::move(status)});
      }
      Wake();
    });
    return true;
  }

  // after's result: containerd's status goes to the caller, or the one
  // after put in its place.
  void ApplyAfter(Stream* stream, const base::Status& status) {
    if (!stream->after_pending) return;
    stream->after_pending = false;
    if (stream->client_closed) return;
    if (stream->trailers_only) {
      if (status.ok()) {
        std::vector<nghttp2_nv> nv = ToNv(stream->response, false);
        stream->responded = true;
        nghttp2_submit_response(stream->conn->server, stream->client_id, nv.data(), nv.size(),
                                nullptr);
      } else {
        Answer(stream, status.code(), status.message());
      }
      return;
    }
    if (!status.ok()) {
      stream->trailers = {{"grpc-status", std::to_string(static_cast<int>(status.code()))},
                          {"grpc-message", PercentEncode(status.message())}};
    }
    nghttp2_session_resume_data(stream->conn->server, stream->client_id);
  }

  void Forget(Stream* stream) {
    if (stream->client_closed && stream->backend_closed) {
      ReleaseHeld(stream);
      stream->conn->streams.erase(stream->client_id);
    }
  }

  // A held stream still assembling its request: neither decided, being
  // decided, nor answered. If it ends now, nothing has audited it yet.
  static bool AwaitingRequest(const Stream& stream) {
    return stream.held && !stream.deciding && !stream.decided && !stream.answered;
  }

  // The stream's first message no longer counts against its connection.
  static void ReleaseHeld(Stream* stream) {
    stream->conn->held_bytes -= stream->held_bytes;
    stream->held_bytes = 0;
  }

  void Begin(Stream* stream, bool ended) {
    stream->arrived = std::chrono::steady_clock::now();
    stream->begun = true;
    if (stream->header_overflow) {
      Refuse(stream, base::Code::RESOURCE_EXHAUSTED,
             fmt::format("crigate: the request's header block is over {} bytes", kMaxHeaderBytes));
      return;
    }
    auto head = ParseRequestHead(stream->request);
    if (!head.ok()) {
      Refuse(stream, head.code(), "crigate: " + head.error());
      return;
    }
    stream->head = *std::move(head);
    const Route route = options.route ? options.route(stream->head.path) : Route::kRefuse;
    stream->route = route;
    if (route == Route::kRefuse) {
      Refuse(stream, base::Code::UNIMPLEMENTED,
             fmt::format("crigate: {} is not served: crigate answers only the CRI methods "
                         "/runtime.v1.RuntimeService/<Method>, /runtime.v1.ImageService/<Method> "
                         "(and runtime.v1alpha2), spelled exactly",
                         base::Printable(stream->head.path, 200)));
      return;
    }
    if (route == Route::kHold) {
      if (stream->conn->deciding >= kMaxDecidingPerConnection) {
        Refuse(stream, base::Code::RESOURCE_EXHAUSTED,
               fmt::format("crigate: {} calls of this connection are being decided; try again",
                           stream->conn->deciding));
        return;
      }
      stream->held = true;
      stream->first = std::make_unique<FirstMessage>(options.max_message_bytes);
      if (ended) Held(stream, std::string_view(), true);
      return;
    }
    Forward(stream, ended);
  }

  // Opens containerd's stream for this one; its DATA comes from stream->up.
  // False (and the caller answered) when containerd cannot be reached.
  bool Forward(Stream* stream, bool ended) {
    Conn* conn = stream->conn;
    if (conn->backend != nullptr && nghttp2_session_check_request_allowed(conn->backend) == 0 &&
        !AnyRelayed(conn)) {
      // containerd said GOAWAY on this connection and nothing is left on
      // it: a new stream goes on a new connection.
      DropBackend(conn);
    }
    if (!ConnectBackend(conn)) {
      CountBackendUnavailable();
      Answer(stream, base::Code::UNAVAILABLE,
             fmt::format("crigate: containerd is unavailable at {}: {}", BackendName(),
                         base::ErrnoText(errno)));
      return false;
    }
    std::vector<nghttp2_nv> nv = ToNv(stream->request, true);
    nghttp2_data_provider up{};
    up.source.ptr = stream;
    up.read_callback = &ReadUp;
    const int32_t id = nghttp2_submit_request(conn->backend, nullptr, nv.data(), nv.size(),
                                              ended ? nullptr : &up, stream);
    if (id < 0) {
      CountBackendUnavailable();
      Answer(stream, base::Code::UNAVAILABLE,
             fmt::format("crigate: cannot open a stream to containerd: {}", nghttp2_strerror(id)));
      return false;
    }
    stream->backend_id = id;
    stream->backend_generation = conn->backend_generation;
    stream->backend_closed = false;
    return true;
  }

  static bool AnyRelayed(const Conn* conn) {
    return std::any_of(conn->streams.begin(), conn->streams.end(),
                       [](const auto& entry) { return !entry.second->backend_closed; });
  }

  // A held stream's DATA (and its end): assembled until the first message
  // is complete, then handed to a worker for the decision.
  void Held(Stream* stream, std::string_view data, bool ended) {
    if (stream->answered) return;
    if (stream->deciding || stream->decided) {
      if (!data.empty()) {
        // A second message on a unary call: never relayed uninspected.
        if (stream->decided) {
          nghttp2_submit_rst_stream(stream->conn->server, NGHTTP2_FLAG_NONE, stream->client_id,
                                    NGHTTP2_PROTOCOL_ERROR);
        } else {
          // Not Refuse: the decision under way leaves the call's one audit
          // record, and its verdict is undone when it comes back.
          Answer(stream, base::Code::INVALID_ARGUMENT,
                 "crigate: a CRI request carries one message; this one sent more");
        }
      }
      return;
    }
    FirstMessage& first = *stream->first;
    if (!data.empty()) {
      // Every held stream of the connection together: at most twice what
      // one may carry.
      if (stream->conn->held_bytes + data.size() > 2 * options.max_message_bytes) {
        Refuse(stream, base::Code::RESOURCE_EXHAUSTED,
               fmt::format("crigate: this connection's requests waiting for a decision are over "
                           "{} bytes together",
                           2 * options.max_message_bytes));
        ReleaseHeld(stream);
        return;
      }
      stream->conn->held_bytes += data.size();
      stream->held_bytes += data.size();
      first.Add(data);
    }
    if (ended) first.Finish();
    switch (first.state()) {
      case FirstMessage::State::kNeedMore:
        return;
      case FirstMessage::State::kTooLarge:
        Refuse(stream, base::Code::RESOURCE_EXHAUSTED,
               fmt::format("crigate: the {} request is {} bytes, more than {} ({})",
                           base::Printable(stream->head.path, 200), first.announced(),
                           options.limit_name, options.max_message_bytes));
        return;
      case FirstMessage::State::kMalformed:
        Refuse(stream, base::Code::INVALID_ARGUMENT, "crigate: " + first.Problem());
        return;
      case FirstMessage::State::kComplete:
        break;
    }
    if (first.extra_bytes() > 0) {
      Refuse(stream, base::Code::INVALID_ARGUMENT,
             "crigate: a CRI request carries one message; this one sent more");
      return;
    }
    auto message = MessageToJudge(first, stream->head, options.max_message_bytes);
    if (!message.ok()) {
      Refuse(stream, message.code(), "crigate: " + message.error());
      return;
    }
    HeldCall call = CallOf(stream);
    call.message = *std::move(message);
    stream->deciding = true;
    ++stream->conn->deciding;
    const uint64_t serial = stream->conn->serial;
    const int32_t id = stream->client_id;
    auto task = [this, serial, id, call = std::move(call)]() {
      Verdict verdict;
      if (options.decide) {
        verdict = options.decide(call);
      } else {
        verdict.status = base::Status::PermissionDenied("crigate: no decision is configured");
      }
      {
        std::lock_guard<std::mutex> lock(mu);
        decided.push_back({serial, id, std::move(verdict)});
      }
      Wake();
    };
    Post(std::move(task));
  }

  // On the loop thread: a verdict came back.
  void Apply(Decided& done) {
    auto conn_it = by_serial.find(done.conn_serial);
    Conn* conn = conn_it == by_serial.end() ? nullptr : conn_it->second;
    Stream* stream = nullptr;
    if (conn != nullptr) {
      auto it = conn->streams.find(done.client_id);
      if (it != conn->streams.end()) stream = it->second.get();
    }
    if (conn != nullptr) --conn->deciding;
    Verdict& verdict = done.verdict;
    if (stream == nullptr || stream->client_closed || stream->answered) {
      // The caller went away (or broke the rules) while it was decided.
      if (verdict.status.ok() && verdict.undo) verdict.undo();
      return;
    }
    stream->deciding = false;
    if (!verdict.status.ok()) {
      Answer(stream, verdict.status.code(), verdict.status.message());
    } else if (verdict.local_answer) {
      AnswerLocally(stream, *verdict.local_answer);
    } else if (!ShortenDeadline(stream)) {
      Answer(stream, base::Code::DEADLINE_EXCEEDED,
             "crigate: the call's deadline passed while it was decided");
      if (verdict.undo) verdict.undo();
    } else {
      stream->decided = true;
      const FirstMessage& first = *stream->first;
      stream->up = verdict.replacement ? FrameMessage(*verdict.replacement)
                                       : FrameMessage(first.payload(), first.compressed());
      ReleaseHeld(stream);
      if (Forward(stream, false)) {
        stream->after = std::move(verdict.after);
        stream->after_inline = verdict.after_inline;
      } else if (verdict.undo) {
        verdict.undo();
      }
    }
    Service(conn);
  }

  // A held call's grpc-timeout, less the time it waited here: containerd
  // gets what the caller has left. False when nothing is left.
  static bool ShortenDeadline(Stream* stream) {
    if (!stream->head.timeout) return true;
    const auto left = *stream->head.timeout - (std::chrono::steady_clock::now() - stream->arrived);
    if (left <= std::chrono::nanoseconds::zero()) return false;
    for (Field& f : stream->request) {
      if (f.name == "grpc-timeout") f.value = FormatGrpcTimeout(left);
    }
    return true;
  }

  // On the loop thread: an after hook's result came back.
  void ApplyFinished(Finished& done) {
    auto conn_it = by_serial.find(done.conn_serial);
    if (conn_it == by_serial.end()) return;
    Conn* conn = conn_it->second;
    auto it = conn->streams.find(done.client_id);
    if (it == conn->streams.end()) return;
    ApplyAfter(it->second.get(), done.status);
    Service(conn);
  }

  // ---- nghttp2 callbacks: the caller's side ----

  static Conn* ConnOf(void* user_data) { return static_cast<Conn*>(user_data); }

  static int ServerBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame,
                                void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    Conn* conn = ConnOf(user_data);
    auto stream = std::make_unique<Stream>();
    stream->conn = conn;
    stream->client_id = frame->hd.stream_id;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, stream.get());
    conn->streams[frame->hd.stream_id] = std::move(stream);
    return 0;
  }

  static int ServerHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t flags,
                          void* user_data) {
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    stream->header_bytes += namelen + valuelen;
    if (stream->header_bytes > kMaxHeaderBytes) {
      // Not kept: HPACK lets a few bytes on the wire name a large field
      // again and again. Begin refuses the stream.
      stream->header_overflow = true;
      return 0;
    }
    stream->request.push_back({std::string(reinterpret_cast<const char*>(name), namelen),
                               std::string(reinterpret_cast<const char*>(value), valuelen)});
    return 0;
  }

  static int ServerFrame(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    Conn* conn = ConnOf(user_data);
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr) return 0;
    const bool ended = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      stream->client_ended = ended;
      conn->relay->Begin(stream, ended);
      return 0;
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && ended) {
      stream->client_ended = true;
      if (stream->held && !stream->decided) conn->relay->Held(stream, std::string_view(), true);
      if (!stream->backend_closed && conn->backend != nullptr) {
        nghttp2_session_resume_data(conn->backend, stream->backend_id);
      }
    }
    return 0;
  }

  static int ServerSent(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    if (frame->hd.type != NGHTTP2_HEADERS || (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) {
      return 0;
    }
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream != nullptr && stream->answered && !stream->client_ended) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream->client_id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int ServerData(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                        const uint8_t* data, size_t len, void* user_data) {
    Conn* conn = ConnOf(user_data);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream != nullptr && stream->held) {
      // Kept here (at most max_message_bytes of it), so the credit goes back
      // now: a held stream never stalls its connection.
      nghttp2_session_consume(session, stream_id, len);
      conn->relay->Held(stream, std::string_view(reinterpret_cast<const char*>(data), len), false);
      return 0;
    }
    if (stream == nullptr || stream->backend_closed || conn->backend == nullptr) {
      // Nobody will take these bytes: hand the credit back at once.
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    stream->up.append(reinterpret_cast<const char*>(data), len);
    nghttp2_session_resume_data(conn->backend, stream->backend_id);
    return 0;
  }

  static int ServerClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                         void* user_data) {
    Conn* conn = ConnOf(user_data);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream == nullptr) return 0;
    stream->client_closed = true;
    conn->relay->Ended(stream, error_code);
    if (AwaitingRequest(*stream)) {
      // Still one audit record for a call that never got to its decision.
      conn->relay->Report(stream, base::Status(base::Code::CANCELLED,
                                               "crigate: the caller left before its request "
                                               "arrived whole"));
    }
    if (!stream->backend_closed && conn->backend != nullptr) {
      // The caller reset or went away: containerd's stream goes too.
      nghttp2_submit_rst_stream(
          conn->backend, NGHTTP2_FLAG_NONE, stream->backend_id,
          error_code == NGHTTP2_NO_ERROR ? uint32_t{NGHTTP2_CANCEL} : error_code);
    }
    conn->relay->Forget(stream);
    return 0;
  }

  // The caller's DATA, handed to containerd's session as it asks for it.
  static ssize_t ReadUp(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                        uint32_t* data_flags, nghttp2_data_source* source, void* user_data) {
    auto* stream = static_cast<Stream*>(source->ptr);
    const size_t n = std::min(length, stream->up.size());
    if (n > 0) {
      std::copy_n(stream->up.data(), n, reinterpret_cast<char*>(buf));
      stream->up.erase(0, n);
      // containerd's side has taken them: the caller may send as much again.
      // Also once the caller's stream is closed: the connection's window
      // must get them back. A held stream's bytes were credited on arrival.
      if (!stream->held) nghttp2_session_consume(stream->conn->server, stream->client_id, n);
    }
    if (stream->up.empty() && stream->client_ended) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return static_cast<ssize_t>(n);
    }
    if (n == 0) return NGHTTP2_ERR_DEFERRED;
    return static_cast<ssize_t>(n);
  }

  // ---- nghttp2 callbacks: containerd's side ----

  static int BackendHeader(nghttp2_session* session, const nghttp2_frame* frame,
                           const uint8_t* name, size_t namelen, const uint8_t* value,
                           size_t valuelen, uint8_t flags, void* user_data) {
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr) return 0;
    Field field{std::string(reinterpret_cast<const char*>(name), namelen),
                std::string(reinterpret_cast<const char*>(value), valuelen)};
    if (frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      stream->response.push_back(std::move(field));
    } else {
      stream->trailers.push_back(std::move(field));
    }
    return 0;
  }

  static int BackendFrame(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    Conn* conn = ConnOf(user_data);
    auto* stream =
        static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, frame->hd.stream_id));
    if (stream == nullptr || stream->client_closed) return 0;
    const bool ended = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
      stream->got_response = true;
      if (ended) {
        stream->backend_ended = true;  // trailers-only
        stream->trailers_only = true;
        if (conn->relay->RunAfter(stream, AnswerOf(stream->response))) return 0;
        std::vector<nghttp2_nv> nv = ToNv(stream->response, false);
        stream->responded = true;
        nghttp2_submit_response(conn->server, stream->client_id, nv.data(), nv.size(), nullptr);
        return 0;
      }
      std::vector<nghttp2_nv> nv = ToNv(stream->response, false);
      stream->responded = true;
      nghttp2_data_provider down{};
      down.source.ptr = stream;
      down.read_callback = &ReadDown;
      nghttp2_submit_response(conn->server, stream->client_id, nv.data(), nv.size(), &down);
      return 0;
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) && ended) {
      stream->backend_ended = true;
      if (conn->relay->RunAfter(stream, AnswerOf(stream->trailers))) return 0;
      nghttp2_session_resume_data(conn->server, stream->client_id);
    }
    return 0;
  }

  static int BackendData(nghttp2_session* session, uint8_t flags, int32_t stream_id,
                         const uint8_t* data, size_t len, void* user_data) {
    Conn* conn = ConnOf(user_data);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream == nullptr || stream->client_closed) {
      nghttp2_session_consume(session, stream_id, len);
      return 0;
    }
    stream->down.append(reinterpret_cast<const char*>(data), len);
    if (stream->after && !stream->answer_overflow) {
      if (stream->answer_bytes.size() + len > conn->relay->options.max_message_bytes) {
        stream->answer_overflow = true;
        stream->answer_bytes.clear();
      } else {
        stream->answer_bytes.append(reinterpret_cast<const char*>(data), len);
      }
    }
    nghttp2_session_resume_data(conn->server, stream->client_id);
    return 0;
  }

  static int BackendClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code,
                          void* user_data) {
    Conn* conn = ConnOf(user_data);
    auto* stream = static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, stream_id));
    if (stream == nullptr) return 0;
    stream->backend_closed = true;
    if (!stream->backend_ended) {
      // Only REFUSED_STREAM says containerd did not run the call (RFC 9113
      // section 8.7); any other reset may come after it did (grpc-go resets
      // with CANCEL when the deadline passes, whatever the handler did).
      const bool refused = error_code == NGHTTP2_REFUSED_STREAM && !stream->got_response;
      if (stream->client_closed) {
        conn->relay->EndAfter(
            stream, base::Status(base::Code::CANCELLED, "crigate: the caller cancelled the call"));
      } else if (refused) {
        conn->relay->EndAfter(stream,
                              base::Status::Unavailable("crigate: containerd refused the stream"),
                              /*may_have_run=*/false);
      } else {
        conn->relay->EndAfter(stream,
                              base::Status(base::Code::CANCELLED,
                                           fmt::format("crigate: containerd reset the stream ({})",
                                                       nghttp2_http2_strerror(error_code))));
      }
      if (!stream->client_closed) {
        // containerd reset the stream: so is the caller's (a reset with no
        // error still ends it: the caller must not wait for trailers).
        nghttp2_submit_rst_stream(
            conn->server, NGHTTP2_FLAG_NONE, stream->client_id,
            error_code == NGHTTP2_NO_ERROR ? uint32_t{NGHTTP2_CANCEL} : error_code);
      }
    }
    conn->relay->Forget(stream);
    return 0;
  }

  // containerd's DATA and trailers, handed to the caller's session.
  static ssize_t ReadDown(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* user_data) {
    auto* stream = static_cast<Stream*>(source->ptr);
    Conn* conn = stream->conn;
    const size_t n = std::min(length, stream->down.size());
    if (n > 0) {
      std::copy_n(stream->down.data(), n, reinterpret_cast<char*>(buf));
      stream->down.erase(0, n);
      // Also once containerd closed the stream: the connection's window must
      // get them back (else it drains, a response's worth at a time, and the
      // connection stalls). Not across a reconnect: those bytes were the old
      // session's.
      if (conn->backend != nullptr && stream->backend_id >= 0 &&
          conn->backend_generation == stream->backend_generation) {
        nghttp2_session_consume(conn->backend, stream->backend_id, n);
      }
    }
    if (stream->down.empty() && stream->backend_ended && !stream->after_pending) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      if (!stream->trailers.empty()) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        std::vector<nghttp2_nv> nv = ToNv(stream->trailers, false);
        nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size());
      }
      return static_cast<ssize_t>(n);
    }
    if (n == 0) return NGHTTP2_ERR_DEFERRED;
    return static_cast<ssize_t>(n);
  }

  // ---- I/O ----

  // Reads what fd has and feeds it to session; false when the peer is gone
  // or broke the protocol.
  static bool Feed(int fd, nghttp2_session* session) {
    char buf[kReadChunk];
    for (;;) {
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n == 0) return false;
      if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
      const ssize_t used =
          nghttp2_session_mem_recv(session, reinterpret_cast<const uint8_t*>(buf), n);
      if (used < 0) return false;
      // A short read took all there was: epoll (level-triggered) says when
      // more comes, so no read that can only say EAGAIN.
      if (static_cast<size_t>(n) < sizeof(buf)) return true;
    }
  }

  // Serializes what session has to send and writes as much as fd takes;
  // false when the peer is gone.
  static bool Flush(int fd, nghttp2_session* session, std::string* out) {
    for (;;) {
      const uint8_t* data = nullptr;
      const ssize_t n = nghttp2_session_mem_send(session, &data);
      if (n < 0) return false;
      if (n == 0) break;
      out->append(reinterpret_cast<const char*>(data), n);
    }
    while (!out->empty()) {
      // MSG_NOSIGNAL: a caller that went away is an error here, not SIGPIPE.
      const ssize_t n = send(fd, out->data(), out->size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        return false;
      }
      out->erase(0, n);
    }
    return true;
  }

  void Service(Conn* conn) {
    // Both sessions may have produced frames for either side.
    if (conn->backend != nullptr && !Flush(conn->backend_fd, conn->backend, &conn->backend_out)) {
      DropBackend(conn);
    }
    if (!Flush(conn->client_fd, conn->server, &conn->client_out)) conn->dead = true;
    if (conn->backend != nullptr && !Flush(conn->backend_fd, conn->backend, &conn->backend_out)) {
      DropBackend(conn);
      Flush(conn->client_fd, conn->server, &conn->client_out);
    }
    if (!conn->dead && nghttp2_session_want_read(conn->server) == 0 &&
        nghttp2_session_want_write(conn->server) == 0 && conn->client_out.empty()) {
      conn->dead = true;
    }
    if (conn->dead) {
      Close(conn);  // its fds leave the epoll set; the object goes after this round
      by_serial.erase(conn->serial);
      graveyard.push_back(conn);
      return;
    }
    Watch(conn->client_fd, &conn->client_end, !conn->client_out.empty());
    if (conn->backend_fd >= 0) {
      Watch(conn->backend_fd, &conn->backend_end, !conn->backend_out.empty());
    }
  }

  // The eventfd: adopted connections, verdicts, after results, a drain.
  void OnWake() {
    uint64_t count = 0;
    ssize_t ignored = read(wake_fd, &count, sizeof(count));
    (void)ignored;
    std::vector<int> fds;
    std::vector<Decided> verdicts;
    std::vector<Finished> ends;
    bool drain = false;
    std::chrono::milliseconds grace{0};
    {
      std::lock_guard<std::mutex> lock(mu);
      fds.swap(adopted);
      verdicts.swap(decided);
      ends.swap(finished);
      drain = drain_requested && !draining;
      grace = drain_grace;
    }
    for (int fd : fds) {
      Conn* conn = Open(fd);
      if (draining) GoAway(conn);
      Service(conn);  // sends its SETTINGS
    }
    for (Decided& done : verdicts) Apply(done);
    for (Finished& done : ends) ApplyFinished(done);
    if (drain) {
      draining = true;
      drain_deadline = std::chrono::steady_clock::now() + grace;
      for (auto& [raw, conn] : conns) {
        if (conn->server == nullptr) continue;
        GoAway(conn.get());
        Service(conn.get());
      }
    }
  }

  void OnEvent(Endpoint* end, uint32_t events) {
    Conn* conn = end->conn;
    if (conn->server == nullptr) return;  // closed earlier in this round
    if (end->backend) {
      if (conn->backend == nullptr) return;  // dropped earlier in this round
      if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0 &&
          !Feed(conn->backend_fd, conn->backend)) {
        DropBackend(conn);
      }
    } else if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0 &&
               !Feed(conn->client_fd, conn->server)) {
      conn->dead = true;
    }
    Service(conn);
  }
};

base::Result<std::unique_ptr<Relay>> Relay::Create(RelayOptions options) {
  BackendUnavailable();  // exported from the start, at 0
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (impl->epoll_fd < 0) {
    return base::Status::Internal("cannot create an epoll set: " + base::ErrnoText(errno));
  }
  impl->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl->wake_fd < 0) {
    return base::Status::Internal("cannot create an eventfd: " + base::ErrnoText(errno));
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up
  if (epoll_ctl(impl->epoll_fd, EPOLL_CTL_ADD, impl->wake_fd, &ev) != 0) {
    return base::Status::Internal("cannot watch the eventfd: " + base::ErrnoText(errno));
  }
  return std::unique_ptr<Relay>(new Relay(std::move(impl)));
}

Relay::Relay(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Relay::~Relay() = default;

void Relay::Adopt(int fd) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->adopted.push_back(fd);
  }
  impl_->Wake();
}

void Relay::Stop() {
  impl_->stopping.store(true);
  impl_->Wake();
}

void Relay::Drain(std::chrono::milliseconds grace) {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->drain_requested = true;
    impl_->drain_grace = grace;
  }
  impl_->Wake();
}

void Relay::Run() {
  while (RunOnce(-1)) {
  }
  for (auto& [raw, conn] : impl_->conns) impl_->Close(conn.get());
  impl_->conns.clear();
}

bool Relay::RunOnce(int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  Impl& r = *impl_;
  if (r.stopping.load()) return false;
  if (r.draining) {
    if (r.conns.empty() || Clock::now() >= r.drain_deadline) return false;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(r.drain_deadline - Clock::now());
    const int left_ms = static_cast<int>(left.count());
    timeout_ms = timeout_ms < 0 ? left_ms : std::min(timeout_ms, left_ms);
  }
  epoll_event events[64];
  const int n = epoll_wait(r.epoll_fd, events, 64, timeout_ms);
  if (n < 0) return errno == EINTR;
  for (int i = 0; i < n; ++i) {
    if (events[i].data.ptr == nullptr) {
      r.OnWake();
      continue;
    }
    r.OnEvent(static_cast<Endpoint*>(events[i].data.ptr), events[i].events);
  }
  for (Conn* conn : r.graveyard) r.conns.erase(conn);
  r.graveyard.clear();
  return true;
}

}  // namespace crigate::cri::h2
