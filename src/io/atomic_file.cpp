#include "perturbfit/io/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "perturbfit/core/error.hpp"

namespace perturbfit::io {

namespace fs = std::filesystem;

namespace {
constexpr const char* kPartialSuffix = ".partial";

IOError failure(const std::string& what, const fs::path& path, int err) {
  return IOError("cannot " + what + " '" + path.string() + "': " + std::strerror(err));
}

void fsync_path(const fs::path& path, int flags) {
  const int fd = ::open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw failure("open", path, errno);
  const int rc = ::fsync(fd), err = errno;
  ::close(fd);
  // Directories on some file systems refuse fsync (EINVAL): the rename is still atomic.
  if (rc != 0 && !(flags & O_DIRECTORY && err == EINVAL)) throw failure("flush to disk", path, err);
}
}  // namespace

fs::path partial_path(const fs::path& final_path) { return final_path.string() + kPartialSuffix; }

void discard_partial(const fs::path& partial) {
  const auto s = partial.string();
  if (s.size() <= std::strlen(kPartialSuffix) ||
      s.compare(s.size() - std::strlen(kPartialSuffix), std::string::npos, kPartialSuffix) != 0)
    throw IOError("internal: output '" + s + "' is not written under a .partial name");
  if (::unlink(partial.c_str()) != 0 && errno != ENOENT) throw failure("remove the stale", partial, errno);
}

void publish(const fs::path& partial, const fs::path& final_path) {
  fsync_path(partial, O_RDONLY);
  if (::rename(partial.c_str(), final_path.c_str()) != 0)
    throw failure("rename '" + partial.string() + "' to", final_path, errno);
  const auto dir = final_path.parent_path().empty() ? fs::path(".") : final_path.parent_path();
  fsync_path(dir, O_RDONLY | O_DIRECTORY);
}

OutputSet::~OutputSet() {
  for (const auto& [partial, final_path] : pending_) ::unlink(partial.c_str());
}

void OutputSet::add(const fs::path& partial, const fs::path& final_path) { pending_.emplace_back(partial, final_path); }

void OutputSet::commit() {
  while (!pending_.empty()) {
    publish(pending_.front().first, pending_.front().second);
    pending_.erase(pending_.begin());
  }
}

void publish_or_stage(const fs::path& partial, const fs::path& final_path, OutputSet* staged) {
  if (staged)
    staged->add(partial, final_path);
  else
    publish(partial, final_path);
}

void write_partial(const fs::path& partial, const void* data, std::size_t size) {
  discard_partial(partial);
  const int fd = ::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw failure("create", partial, errno);
  const char* bytes = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < size) {
    const auto n = ::write(fd, bytes + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = n < 0 ? errno : ENOSPC;
      ::close(fd);
      ::unlink(partial.c_str());
      throw failure("write", partial, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(partial.c_str());
    throw failure("write", partial, err);
  }
}

void write_file_atomically(const fs::path& path, const std::string& text, OutputSet* staged) {
  const auto partial = partial_path(path);
  write_partial(partial, text.data(), text.size());
  publish_or_stage(partial, path, staged);
}

}  // namespace perturbfit::io
