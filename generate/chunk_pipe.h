// ChunkPipe: hands filled COPY buffers from the row generator thread to
// the thread that sends them, and the emptied buffers back, so a history
// run allocates a few buffers in all rather than one per chunk.
//
// At most `depth` chunks wait at once: a generator that runs ahead of
// PostgreSQL blocks instead of filling memory. One producer thread, one
// consumer thread.

#ifndef PULSE_GENERATE_CHUNK_PIPE_H_
#define PULSE_GENERATE_CHUNK_PIPE_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace pulse::generate {

struct CopyChunk {
  std::string data;  // whole COPY lines
  int64_t rows = 0;
  int64_t attacker_rows = 0;
  bool ends_batch = false;  // the COPY (and its transaction) ends here
};

class ChunkPipe {
 public:
  explicit ChunkPipe(size_t depth) : depth_(depth) {}

  // Producer: an empty buffer, recycled when one is back.
  std::string TakeBuffer();
  // Producer: waits for room; false once the consumer cancelled.
  bool Push(CopyChunk chunk);
  // Producer: no more chunks will come.
  void Close();

  // Consumer: waits for the next chunk; false when closed and drained.
  bool Pop(CopyChunk& chunk);
  // Consumer: returns a sent chunk's buffer for reuse.
  void Recycle(std::string buffer);
  // Consumer: gives up; the producer's next Push() returns false.
  void Cancel();

 private:
  const size_t depth_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<CopyChunk> queue_;
  std::vector<std::string> free_;
  bool closed_ = false;
  bool cancelled_ = false;
};

}  // namespace pulse::generate

#endif  // PULSE_GENERATE_CHUNK_PIPE_H_
