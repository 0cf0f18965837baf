// A broken R2 bucket for fault tests: bound in place of the local bucket when
// LOCAL_R2_FAULTS is set (see serve.mjs). Every operation fails the way R2 reports
// an internal error, so tests can check that no link to an unstored image escapes.
export default function () {
  const fail = async () => {
    throw new Error("put: We encountered an internal error. Please try again. (10001)");
  };
  return { put: fail, get: fail, head: fail, delete: fail, list: fail };
}
