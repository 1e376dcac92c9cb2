// Package chemledgerv1 is the API contract of chemledger: the messages and
// services of proto/chemledger/v1, the generated gRPC, gateway and protobuf
// code (scripts/genproto regenerates it offline and --check fails when it is
// stale), and nothing else. It must not hold hand-written logic or import
// any other package of the module.
package chemledgerv1
