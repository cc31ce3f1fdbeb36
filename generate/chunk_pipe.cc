#include "generate/chunk_pipe.h"

namespace pulse::generate {

std::string ChunkPipe::TakeBuffer() {
  std::lock_guard<std::mutex> lock(mu_);
  if (free_.empty()) {
    return {};
  }
  std::string buffer = std::move(free_.back());
  free_.pop_back();
  buffer.clear();
  return buffer;
}

bool ChunkPipe::Push(CopyChunk chunk) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return cancelled_ || queue_.size() < depth_; });
  if (cancelled_) {
    return false;
  }
  queue_.push_back(std::move(chunk));
  cv_.notify_all();
  return true;
}

void ChunkPipe::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

bool ChunkPipe::Pop(CopyChunk& chunk) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return cancelled_ || closed_ || !queue_.empty(); });
  if (cancelled_ || queue_.empty()) {
    return false;
  }
  chunk = std::move(queue_.front());
  queue_.pop_front();
  cv_.notify_all();
  return true;
}

void ChunkPipe::Recycle(std::string buffer) {
  std::lock_guard<std::mutex> lock(mu_);
  free_.push_back(std::move(buffer));
}

void ChunkPipe::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  cv_.notify_all();
}

}  // namespace pulse::generate
