/**
 * Fleet provisioning by the official AWS IoT Device SDK v2 identity client (IotIdentityClient over
 * aws-crt's MQTT 3.1.1 connection), in a process of its own (aws-crt's event loop keeps Node alive):
 * CreateCertificateFromCsr, then RegisterThing, printing what the service answered and the time it took as JSON.
 * Input (argv[2]): {port, ca, certificate, privateKey, clientId, csr, templateName, serial}.
 */
import { iot, iotidentity, mqtt } from 'aws-iot-device-sdk-v2';
import { runScenario } from './sdk-connection';

const { port, ca, certificate, privateKey, clientId, csr, templateName, serial } = JSON.parse(process.argv[2]);

/** Subscribes to a request's two responses; `answer` resolves with the first that arrives. */
async function answerOf<A, R>(subscribeAccepted: (handler: (error?: unknown, response?: A) => void) => Promise<unknown>, subscribeRejected: (handler: (error?: unknown, response?: R) => void) => Promise<unknown>) {
  let resolve!: (value: { accepted?: A; rejected?: R }) => void;
  const answer = new Promise<{ accepted?: A; rejected?: R }>((done) => { resolve = done; });
  await Promise.all([
    subscribeAccepted((error, response) => resolve({ accepted: response ?? (error as A) })),
    subscribeRejected((error, response) => resolve({ rejected: response ?? (error as R) })),
  ]);
  return { answer };
}

async function main() {
  const started = Date.now();
  const config = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(certificate, privateKey)
    .with_certificate_authority(ca).with_endpoint('localhost').with_port(port).with_client_id(clientId).with_clean_session(true).build();
  const connection = new mqtt.MqttClient().new_connection(config);
  await connection.connect();
  const identity = new iotidentity.IotIdentityClient(connection);
  const qos = mqtt.QoS.AtLeastOnce;

  const csrAnswer = await answerOf<iotidentity.model.CreateCertificateFromCsrResponse, iotidentity.model.ErrorResponse>(
    (handler) => identity.subscribeToCreateCertificateFromCsrAccepted({}, qos, handler),
    (handler) => identity.subscribeToCreateCertificateFromCsrRejected({}, qos, handler));
  await identity.publishCreateCertificateFromCsr({ certificateSigningRequest: csr }, qos);
  const created = await csrAnswer.answer;

  const registerAnswer = await answerOf<iotidentity.model.RegisterThingResponse, iotidentity.model.ErrorResponse>(
    (handler) => identity.subscribeToRegisterThingAccepted({ templateName }, qos, handler),
    (handler) => identity.subscribeToRegisterThingRejected({ templateName }, qos, handler));
  await identity.publishRegisterThing({ templateName, certificateOwnershipToken: created.accepted?.certificateOwnershipToken, parameters: { SerialNumber: serial } }, qos);
  const registered = await registerAnswer.answer;

  // From connecting to the RegisterThing answer, as bench:fleet times its own provisioner.
  const ms = Date.now() - started;
  await connection.disconnect();
  return { created, registered, ms };
}

runScenario(main);
