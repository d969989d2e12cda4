// ByteReader: sequential raw or gzip reading with zlib's inflate, every failure a FileError.
#include <tapegrad/io/detail/byte_reader.hpp>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>

#include <sys/stat.h>
#include <zlib.h>

#include <fmt/format.h>

#include <tapegrad/autograd/error.hpp>
#include <tapegrad/io/detail/regular_file.hpp>

namespace tapegrad::io::detail {

struct ByteReader::Inflater {
    z_stream s{};
    bool ready = false;
    ~Inflater() {
        if (ready) inflateEnd(&s);
    }
};

ByteReader::ByteReader(const std::string& path, std::string who, std::uint64_t max_inflated)
    : context_(fmt::format("{}: '{}'", who, path)), max_inflated_(max_inflated) {
    if (path.empty()) throw FileError(who + ": empty path; expected the name of a file");
    RegularFile regular(path, context_);
    file_ = fdopen(regular.fd(), "rb");
    if (!file_) throw FileError(fmt::format("{}: cannot open: {}", context_, std::strerror(errno)));
    file_size_ = regular.size();
    regular.release();

    unsigned char magic[2] = {0, 0};
    std::size_t got = std::fread(magic, 1, 2, file_);
    if (std::ferror(file_) || std::fseek(file_, 0, SEEK_SET) != 0) {
        std::fclose(file_);
        file_ = nullptr;
        throw FileError(context_ + ": read error");
    }
    gzip_ = got == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    if (gzip_) {
        in_.resize(1 << 16);
        z_ = std::make_unique<Inflater>();
        // 16 + MAX_WBITS: a gzip wrapper, whose CRC-32 and length zlib checks at the end.
        int rc = inflateInit2(&z_->s, 16 + MAX_WBITS);
        if (rc != Z_OK) {
            std::fclose(file_);
            file_ = nullptr;
            if (rc == Z_MEM_ERROR) throw std::bad_alloc();
            throw FileError(context_ + ": cannot start zlib's inflate");
        }
        z_->ready = true;
    }
}

ByteReader::~ByteReader() {
    if (file_) std::fclose(file_);
}

std::uint64_t ByteReader::max_content_size() const {
    if (!gzip_) return file_size_;
    const std::uint64_t ratio = 1032, slack = 1024;
    if (file_size_ > (UINT64_MAX - slack) / ratio) return UINT64_MAX;
    return file_size_ * ratio + slack;
}

std::size_t ByteReader::read(void* dst, std::size_t n) { return gzip_ ? read_gzip(dst, n) : read_raw(dst, n); }

std::size_t ByteReader::read_raw(void* dst, std::size_t n) {
    std::size_t got = std::fread(dst, 1, n, file_);
    if (got < n && std::ferror(file_)) throw FileError(context_ + ": read error");
    return got;
}

bool ByteReader::refill() {
    if (file_eof_) return false;
    std::size_t got = std::fread(in_.data(), 1, in_.size(), file_);
    if (got == 0) {
        if (std::ferror(file_)) throw FileError(context_ + ": read error");
        file_eof_ = true;
        return false;
    }
    z_->s.next_in = in_.data();
    z_->s.avail_in = uInt(got);
    return true;
}

std::size_t ByteReader::read_gzip(void* dst, std::size_t n) {
    z_stream& s = z_->s;
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t done = 0;
    while (done < n && !stream_end_) {
        // avail_out is 32-bit: feed a huge request in pieces.
        uInt chunk = uInt(std::min<std::size_t>(n - done, UINT_MAX));
        s.next_out = out + done;
        s.avail_out = chunk;
        while (s.avail_out > 0) {
            if (s.avail_in == 0) refill();
            uInt in_before = s.avail_in, out_before = s.avail_out;
            int rc = inflate(&s, Z_NO_FLUSH);
            bool progress = s.avail_in != in_before || s.avail_out != out_before;
            if (rc == Z_STREAM_END) {
                stream_end_ = true;
                if (s.avail_in > 0 || refill())
                    throw FileError(context_ +
                                    ": unexpected data after the end of the gzip stream "
                                    "(expected the file to end there)");
                break;
            }
            if (rc == Z_MEM_ERROR) throw std::bad_alloc();
            if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT || rc == Z_STREAM_ERROR)
                throw FileError(
                    fmt::format("{}: corrupt gzip stream ({})", context_, s.msg ? s.msg : "invalid compressed data"));
            if (!progress && s.avail_in == 0 && file_eof_)
                throw FileError(context_ + ": truncated gzip stream (the file ends before the compressed data does)");
        }
        done += chunk - s.avail_out;
        inflated_ += chunk - s.avail_out;
        if (inflated_ > max_inflated_)
            throw FileError(
                fmt::format("{}: the gzip data expands past {} bytes, the limit "
                            "(LoadOptions::max_inflated_bytes; raise it to read this file)",
                            context_, max_inflated_));
    }
    return done;
}

}  // namespace tapegrad::io::detail
