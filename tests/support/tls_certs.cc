#include "tests/support/tls_certs.h"

#include "tests/support/process.h"

namespace vitals_test {

CertFiles MakeCa(const std::string& dir, const std::string& name, std::string* error) {
  CertFiles ca{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  const std::string cmd =
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 2 -subj /CN=" +
      name + " -keyout " + ca.key + " -out " + ca.cert + " 2>&1";
  if (RunCommand(cmd, error) != 0) return {};
  return ca;
}

CertFiles MakeCert(const std::string& dir, const CertFiles& ca, const std::string& name,
                   std::string* error) {
  CertFiles c{dir + "/" + name + ".crt", dir + "/" + name + ".key"};
  const std::string csr = dir + "/" + name + ".csr";
  const std::string ext = dir + "/" + name + ".ext";
  WriteFile(ext,
            "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
            "extendedKeyUsage=serverAuth,clientAuth\n");
  const std::string cmd =
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=" + name +
      " -keyout " + c.key + " -out " + csr + " 2>&1 && openssl x509 -req -in " + csr + " -CA " +
      ca.cert + " -CAkey " + ca.key + " -CAcreateserial -days 2 -extfile " + ext + " -out " +
      c.cert + " 2>&1";
  if (RunCommand(cmd, error) != 0) return {};
  return c;
}

}  // namespace vitals_test
