import { DeviceError, EXIT } from '../../device/src/errors';

describe('DeviceError', () => {
  test('one line: the message, one period, the hint', () => {
    expect(new DeviceError("Secrets Manager can't find the specified secret.", EXIT.awsFailed, 'Redeploy the stack').line)
      .toBe("Secrets Manager can't find the specified secret. Redeploy the stack");
    expect(new DeviceError('No answer', EXIT.provisionFailed, 'Run again').line).toBe('No answer. Run again');
    expect(new DeviceError('Just this', EXIT.usage).line).toBe('Just this');
  });
});
