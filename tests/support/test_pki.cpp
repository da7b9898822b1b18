#include "tests/support/test_pki.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

namespace signalhub::testing {
namespace {

void Check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "test PKI: %s failed\n", what);
        std::abort();
    }
}

EVP_PKEY* NewKey() {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    Check(key != nullptr, "EVP_EC_gen");
    return key;
}

std::string Pem(X509* cert) {
    BIO* bio = BIO_new(BIO_s_mem());
    Check(PEM_write_bio_X509(bio, cert) == 1, "PEM_write_bio_X509");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

std::string Pem(EVP_PKEY* key) {
    BIO* bio = BIO_new(BIO_s_mem());
    Check(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1, "PEM_write_bio_PrivateKey");
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
}

void AddExtension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    Check(ext != nullptr, "X509V3_EXT_conf_nid");
    Check(X509_add_ext(cert, ext, -1) == 1, "X509_add_ext");
    X509_EXTENSION_free(ext);
}

// An unsigned certificate for `key` named `cn`, issued by `issuer` (null: self-issued).
X509* MakeCert(EVP_PKEY* key, const std::string& cn, long serial, X509* issuer) {
    X509* cert = X509_new();
    Check(cert != nullptr, "X509_new");
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Signal Hub tests"), -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                               0);
    X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name);
    return cert;
}

void Sign(X509* cert, EVP_PKEY* key) { Check(X509_sign(cert, key, EVP_sha256()) > 0, "X509_sign"); }

}  // namespace

struct TestPki::Impl {
    EVP_PKEY* key = nullptr;
    X509* cert = nullptr;
    std::string pem;

    ~Impl() {
        X509_free(cert);
        EVP_PKEY_free(key);
    }

    IssuedCert Issue(const std::string& cn, long serial, bool server, const std::string& san) {
        EVP_PKEY* leaf_key = NewKey();
        X509* leaf = MakeCert(leaf_key, cn, serial, cert);
        AddExtension(leaf, cert, NID_basic_constraints, "critical,CA:FALSE");
        AddExtension(leaf, cert, NID_key_usage, "critical,digitalSignature");
        AddExtension(leaf, cert, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
        if (server) AddExtension(leaf, cert, NID_subject_alt_name, san.c_str());
        AddExtension(leaf, cert, NID_authority_key_identifier, "keyid:always");
        Sign(leaf, key);
        IssuedCert out{Pem(leaf), Pem(leaf_key), serial};
        X509_free(leaf);
        EVP_PKEY_free(leaf_key);
        return out;
    }
};

TestPki::TestPki(const std::string& ca_name) : impl_(std::make_unique<Impl>()) {
    impl_->key = NewKey();
    impl_->cert = MakeCert(impl_->key, ca_name, 1, nullptr);
    AddExtension(impl_->cert, impl_->cert, NID_basic_constraints, "critical,CA:TRUE");
    AddExtension(impl_->cert, impl_->cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    AddExtension(impl_->cert, impl_->cert, NID_subject_key_identifier, "hash");
    Sign(impl_->cert, impl_->key);
    impl_->pem = Pem(impl_->cert);
}

TestPki::~TestPki() = default;

const std::string& TestPki::ca_pem() const { return impl_->pem; }

IssuedCert TestPki::IssueServer(const std::string& common_name, long serial, const std::string& san) {
    return impl_->Issue(common_name, serial, true, san);
}

IssuedCert TestPki::IssueClient(const std::string& common_name, long serial) {
    return impl_->Issue(common_name, serial, false, "");
}

void WriteTextFile(const std::string& path, const std::string& content) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << content;
    out.close();
    Check(static_cast<bool>(out), ("writing " + path).c_str());
}

}  // namespace signalhub::testing
